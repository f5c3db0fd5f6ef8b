"""Codecs for the ``events`` payload of ``event_camera_msgs/msg/EventPacket``."""

from neuro_nodes.events.codecs.base import (
    CodecError,
    Decoder,
    DecodeResult,
    Encoder,
    Payload,
    StreamDecoder,
    decoder_encodings,
    encoder_encodings,
    make_decoder,
    make_encoder,
)

__all__ = [
    "CodecError",
    "DecodeResult",
    "Decoder",
    "Encoder",
    "Payload",
    "StreamDecoder",
    "decoder_encodings",
    "encoder_encodings",
    "make_decoder",
    "make_encoder",
]
