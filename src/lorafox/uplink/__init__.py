"""The uplink flow: a normalised uplink from any source, stored once, decoded, answered with its
downlink, then handed to the sinks (the MQTT outbox, the activity monitor).

``UplinkService`` is the use case; ``UplinkPipeline`` its group commit. A source (the Sigfox
callbacks today) parses its protocol into a ``lorafox.domain.Uplink`` and calls
``UplinkService.receive``; nothing else.
"""

from lorafox.uplink.pipeline import UplinkPipeline
from lorafox.uplink.service import UplinkService

__all__ = ["UplinkPipeline", "UplinkService"]
