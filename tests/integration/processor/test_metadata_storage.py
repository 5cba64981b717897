"""Whatever a file's EXIF holds, what probe() reads from it is stored by the real Postgres.

A camera once wrote ``ION230\\x00F`` as its model, and Postgres refused the status update
(text cannot hold NUL). Here hypothesis writes JPEG and TIFF files with arbitrary Make,
Model, DateTime, DateTimeOriginal and Orientation values (any text, NUL, control, format
and non-BMP characters and lone surrogates included; arbitrary bytes, in ASCII and
UNDEFINED tags; numbers where text belongs), and each probe() result goes into an Image
row exactly as processor/jobs.py stores it, is committed, and reads back unchanged.
"""

from __future__ import annotations

import io
import uuid
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, TiffImagePlugin, TiffTags
from sqlalchemy.orm import Session, sessionmaker

from glowworm.db import make_engine, make_session_factory
from glowworm.models import Image as ImageRow
from glowworm.models import User
from processor.imaging import ImageInfo, probe
from upload_service.settings import UploadSettings

pytestmark = pytest.mark.integration

MAKE, MODEL, ORIENTATION, DATETIME = 0x010F, 0x0110, 0x0112, 0x0132
EXIF_IFD, DATETIME_ORIGINAL = 0x8769, 0x9003
# The TIFF header of an EXIF block, little-endian, with IFD0 right after it.
_EXIF_HEAD = b"II\x2a\x00\x08\x00\x00\x00"
# The Image columns' lengths (glowworm/models.py).
_NAME_LENGTH = 100


@dataclass(frozen=True)
class Tag:
    """One tag as a file may hold it: its EXIF type and value."""

    kind: int
    value: str | bytes | int


# Every kind of character: NUL and other controls, bidi overrides, non-BMP, surrogates.
_ANY_TEXT = st.text(st.characters(exclude_categories=()), max_size=150)
# A text tag as cameras and damaged files write it.
_TEXT_TAG = st.one_of(
    # Pillow writes a str as ASCII, each non-ASCII character as "?".
    st.builds(Tag, st.just(TiffTags.ASCII), _ANY_TEXT),
    # Raw bytes in an ASCII tag: UTF-8 (surrogates too), or any bytes at all.
    st.builds(
        Tag, st.just(TiffTags.ASCII), _ANY_TEXT.map(lambda t: t.encode("utf-8", "surrogatepass"))
    ),
    st.builds(Tag, st.just(TiffTags.ASCII), st.binary(max_size=150)),
    st.builds(Tag, st.just(TiffTags.UNDEFINED), st.binary(max_size=150)),
    # A number where text belongs.
    st.builds(Tag, st.just(TiffTags.SHORT), st.integers(0, 2**16 - 1)),
)
_EXIF_TIME = st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31))
_TIME_TAG = st.one_of(
    _TEXT_TAG,
    st.builds(
        Tag,
        st.just(TiffTags.ASCII),
        st.one_of(
            # Any year 1..9999 (strftime pads the year to four digits only on some C libraries).
            _EXIF_TIME.map(
                lambda m: f"{m.year:04}:{m:%m:%d %H:%M:%S}",
            ),
            st.sampled_from(["0000:00:00 00:00:00", "    :  :     :  :  ", ""]),
        ),
    ),
)
_ORIENTATION_TAG = st.builds(Tag, st.just(TiffTags.SHORT), st.integers(0, 2**16 - 1))


@dataclass(frozen=True)
class Upload:
    format_name: str
    size: tuple[int, int]
    make: Tag | None
    model: Tag | None
    file_time: Tag | None
    original_time: Tag | None
    orientation: Tag | None

    def data(self) -> bytes:
        """The picture as a file, its EXIF written tag by tag with each tag's own type."""
        ifd = TiffImagePlugin.ImageFileDirectory_v2(ifh=_EXIF_HEAD)
        for key, tag in (
            (MAKE, self.make),
            (MODEL, self.model),
            (DATETIME, self.file_time),
            (ORIENTATION, self.orientation),
        ):
            if tag is not None:
                ifd.tagtype[key] = tag.kind
                ifd[key] = tag.value
        if self.original_time is not None:
            details = TiffImagePlugin.ImageFileDirectory_v2(ifh=_EXIF_HEAD)
            details.tagtype[DATETIME_ORIGINAL] = self.original_time.kind
            details[DATETIME_ORIGINAL] = self.original_time.value
            ifd[EXIF_IFD] = details
        exif = b"Exif\x00\x00" + _EXIF_HEAD + ifd.tobytes(len(_EXIF_HEAD))
        buffer = io.BytesIO()
        with warnings.catch_warnings():
            # Pillow's TIFF writer re-reads the block and warns about (then skips) a tag
            # it finds odd, such as an empty string in a sub-IFD; the file is still made.
            warnings.simplefilter("ignore", UserWarning)
            Image.new("RGB", self.size, (90, 120, 150)).save(buffer, self.format_name, exif=exif)
        return buffer.getvalue()


_UPLOADS = st.builds(
    Upload,
    format_name=st.sampled_from(["JPEG", "TIFF"]),
    size=st.tuples(st.integers(1, 24), st.integers(1, 24)),
    make=st.none() | _TEXT_TAG,
    model=st.none() | _TEXT_TAG,
    file_time=st.none() | _TIME_TAG,
    original_time=st.none() | _TIME_TAG,
    orientation=st.none() | _ORIENTATION_TAG,
)


@pytest.fixture(scope="module")
def sessions(settings: UploadSettings) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(settings.database_url)
    yield make_session_factory(engine)
    engine.dispose()


@pytest.fixture(scope="module")
def owner(sessions: sessionmaker[Session]) -> Iterator[int]:
    """A user of this module's own; its images go with it."""
    with sessions.begin() as session:
        user = User(name=f"metadata-{uuid.uuid4().hex[:8]}")
        session.add(user)
        session.flush()
        user_id = user.id
    yield user_id
    with sessions.begin() as session:
        session.delete(session.get_one(User, user_id))


def _columns(info: ImageInfo) -> dict[str, object]:
    """What processor/jobs.py ``_record_metadata`` stores of a probe."""
    return {
        "format": info.format,
        "mime_type": info.mime_type,
        "width": info.width,
        "height": info.height,
        "orientation": info.orientation,
        "taken_at": info.taken_at,
        "camera_make": info.camera_make,
        "camera_model": info.camera_model,
    }


@settings(max_examples=200, deadline=None, database=None)
@given(upload=_UPLOADS)
def test_any_exif_is_stored_and_reads_back_unchanged(
    upload: Upload, sessions: sessionmaker[Session], owner: int
) -> None:
    info = probe(upload.data())

    assert sorted((info.width, info.height)) == sorted(upload.size)
    assert 1 <= info.orientation <= 8
    assert info.taken_at is None or 1800 <= info.taken_at.year <= 2200
    for name in (info.camera_make, info.camera_model):
        assert name is None or 0 < len(name) <= _NAME_LENGTH
    key = f"metadata/{uuid.uuid4().hex}"
    with sessions.begin() as session:
        row = ImageRow(owner_id=owner, bucket="metadata", key=key, original_filename="camera.jpg")
        for column, value in _columns(info).items():
            setattr(row, column, value)
        session.add(row)
        session.flush()
        image_id = row.id
    with sessions.begin() as session:
        stored = session.get_one(ImageRow, image_id)
        assert {column: getattr(stored, column) for column in _columns(info)} == _columns(info)
        session.delete(stored)


@pytest.mark.parametrize(
    ("format_name", "model", "stored"),
    [("JPEG", "ION230\x00F", "ION230 F"), ("TIFF", "Kodak i200\x00\x00Koda", "Kodak i200 Koda")],
)
def test_the_cameras_postgres_refused_are_stored(
    sessions: sessionmaker[Session], owner: int, format_name: str, model: str, stored: str
) -> None:
    upload = Upload(format_name, (8, 8), None, Tag(TiffTags.ASCII, model), None, None, None)
    info = probe(upload.data())
    with sessions.begin() as session:
        row = ImageRow(
            owner_id=owner,
            bucket="metadata",
            key=f"metadata/{uuid.uuid4().hex}",
            original_filename="camera.jpg",
            **_columns(info),
        )
        session.add(row)
    with sessions.begin() as session:
        assert session.get_one(ImageRow, row.id).camera_model == stored
        session.delete(session.get_one(ImageRow, row.id))
