"""Re-exports: the factories live in tests/factories.py (one per concept)."""

from tests.factories import (
    AutomatedActionFactory,
    ChannelFactory,
    ContactMethodFactory,
    EscalationLevelFactory,
    EscalationPolicyFactory,
    OverrideFactory,
    RotationFactory,
    RotationMemberFactory,
    ServiceEscalationFactory,
)

__all__ = [
    "RotationFactory",
    "RotationMemberFactory",
    "OverrideFactory",
    "EscalationPolicyFactory",
    "EscalationLevelFactory",
    "AutomatedActionFactory",
    "ChannelFactory",
    "ContactMethodFactory",
    "ServiceEscalationFactory",
]
