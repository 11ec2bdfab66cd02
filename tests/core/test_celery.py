from config.celery import app


def test_tasks_are_routed_to_their_own_queue_and_routing_key():
    for task_name, queue in [
        ("incidents.tasks.process_event", "ingest"),
        ("monitoring.tasks.run_probe_batch", "probes"),
        ("oncall.tasks.send_notification", "notify"),
        ("runbooks.tasks.run_action", "default"),
    ]:
        route = app.amqp.router.route({}, task_name)
        assert route["queue"].name == queue
        assert route["queue"].routing_key == queue
