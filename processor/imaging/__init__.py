"""The pure imaging core: bytes and size specs in, derivatives out.

No storage, broker or database code belongs here, so it is tested with images alone.
"""

from processor.imaging.formats import ALLOWED_FORMATS, DEFAULT_LIMITS, Limits, register_openers
from processor.imaging.pipeline import PIPELINE, Rendition, render
from processor.imaging.probe import ImageInfo, probe

__all__ = [
    "ALLOWED_FORMATS",
    "DEFAULT_LIMITS",
    "PIPELINE",
    "ImageInfo",
    "Limits",
    "Rendition",
    "probe",
    "register_openers",
    "render",
]
