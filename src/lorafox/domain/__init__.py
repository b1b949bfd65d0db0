"""Frozen value objects shared by every layer."""

from lorafox.domain import alerts, callbacks, devices, events, identity, lora, mail, messages
from lorafox.domain.alerts import *  # noqa: F403
from lorafox.domain.callbacks import *  # noqa: F403
from lorafox.domain.devices import *  # noqa: F403 (each module lists its names once)
from lorafox.domain.events import *  # noqa: F403
from lorafox.domain.identity import *  # noqa: F403
from lorafox.domain.lora import *  # noqa: F403
from lorafox.domain.mail import *  # noqa: F403
from lorafox.domain.messages import *  # noqa: F403

__all__ = (
    alerts.__all__
    + callbacks.__all__
    + devices.__all__
    + events.__all__
    + identity.__all__
    + lora.__all__
    + mail.__all__
    + messages.__all__
)
