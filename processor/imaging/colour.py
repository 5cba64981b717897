"""Colour: every input mode brought to 8-bit RGB, and embedded profiles to sRGB."""

from __future__ import annotations

import functools
import io

from PIL import Image, ImageCms

from glowworm.errors import FailureKind, PermanentError

# The modes the resizing steps work in. CMYK stays CMYK until to_srgb, so that its ICC
# profile (if any) converts it; an alpha channel never gets this far.
WORKING_MODES = frozenset({"RGB", "CMYK"})

# Grayscale deeper than 8 bits, as PNG and TIFF decode it.
_DEEP_GRAY = frozenset({"I;16", "I;16L", "I;16B", "I;16N", "I"})

# Modes with an alpha channel of their own (as opposed to a tRNS colour key).
_ALPHA_MODES = frozenset({"RGBA", "RGBa", "LA", "PA"})

# Transparent areas become paper white, as every viewer shows them; black would not.
WHITE = (255, 255, 255)

# Largest 8-bit value; deep samples above it are scaled down, never clipped.
_MAX_8_BIT = 255
# Entries of a lookup table for 16-bit samples.
_SIXTEEN_BIT_VALUES = 65536
# 65535 / 257 == 255 exactly, so a full 16-bit range maps onto the full 8-bit range.
_SIXTEEN_TO_EIGHT = 257


def to_working_mode(image: Image.Image) -> Image.Image:
    """Bring any decoded mode to RGB (CMYK kept), with transparency flattened onto white.

    Raises PermanentError(UNSUPPORTED_FORMAT) for a colour mode Pillow cannot convert.
    """
    if image.mode in WORKING_MODES and "transparency" not in image.info:
        return image
    if image.mode in _DEEP_GRAY:
        image = _deep_gray_to_8_bit(image)
    if image.mode in _ALPHA_MODES or "transparency" in image.info:
        return _flatten_onto_white(image.convert("RGBA"))
    try:
        return image.convert("RGB")
    except ValueError as e:
        raise PermanentError(
            FailureKind.UNSUPPORTED_FORMAT, f"unsupported colour mode {image.mode}"
        ) from e


def _deep_gray_to_8_bit(image: Image.Image) -> Image.Image:
    """Gray to "L" (or "LA" for a tRNS colour key), keeping a 16-bit ramp a ramp.

    Pillow's own conversion clips at 255, which whitens real 16-bit data; blindly
    dividing by 257 would blacken files that only use 0..255 (both happen in the wild),
    so the scale depends on the largest sample.
    """
    wide = image.convert("I")
    _, high = wide.getextrema()
    divisor = _SIXTEEN_TO_EIGHT if isinstance(high, (int, float)) and high > _MAX_8_BIT else 1
    gray = wide.point(_divided_by(divisor), "L")
    key = image.info.get("transparency")
    if not isinstance(key, int):
        return gray
    alpha = wide.point([0 if value == key else 255 for value in range(_SIXTEEN_BIT_VALUES)], "L")
    return Image.merge("LA", (gray, alpha))


@functools.cache
def _divided_by(divisor: int) -> list[int]:
    """A lookup table from 16-bit samples to 8-bit ones (clipped at 255)."""
    return [min(value // divisor, _MAX_8_BIT) for value in range(_SIXTEEN_BIT_VALUES)]


def _flatten_onto_white(rgba: Image.Image) -> Image.Image:
    background = Image.new("RGB", rgba.size, WHITE)
    background.paste(rgba, mask=rgba.getchannel("A"))
    return background


def to_srgb(image: Image.Image, icc_profile: bytes | None) -> Image.Image:
    """RGB in sRGB: an embedded profile is converted from; without one, sRGB is assumed.

    A profile that cannot be read or used, or that does not match the pixels (a gray
    profile on an image we turned RGB), is ignored rather than failing the photo.
    """
    source = _readable_profile(icc_profile, image.mode)
    if source is None:
        return _plain_rgb(image)
    try:
        transform = ImageCms.buildTransform(
            source,
            _srgb(),
            image.mode,
            "RGB",
            renderingIntent=ImageCms.Intent.PERCEPTUAL,
            flags=ImageCms.Flags.HIGHRESPRECALC,
        )
        converted = ImageCms.applyTransform(image, transform)
    except ImageCms.PyCMSError:
        return _plain_rgb(image)
    assert converted is not None  # only an in-place transform returns None
    return converted


def _plain_rgb(image: Image.Image) -> Image.Image:
    return image if image.mode == "RGB" else image.convert("RGB")


@functools.cache
def _srgb() -> ImageCms.ImageCmsProfile:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


# ICC colour space signature -> the Pillow mode it describes.
_PROFILE_MODES = {"RGB ": "RGB", "CMYK": "CMYK"}


def _readable_profile(icc_profile: bytes | None, mode: str) -> ImageCms.ImageCmsProfile | None:
    """The profile to convert from, or None when there is nothing (useful) to convert."""
    if not icc_profile:
        return None
    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc_profile))
        description = ImageCms.getProfileDescription(profile)
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return None
    if _PROFILE_MODES.get(profile.profile.xcolor_space) != mode:
        return None
    if mode == "RGB" and "srgb" in description.lower():
        return None
    return profile
