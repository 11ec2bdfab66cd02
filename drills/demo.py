def seed_demo_drills(*, team, author) -> str:
    return ""
