"""Looking an image up by its id, for every route that answers about one: the status,
delete, media and share-page routes.

An id that is not one we issue is ``NotFound`` before storage is asked. A removed image's
tombstone says why it is gone, as the ``Gone`` subclass each route answers in its way.
"""

from werkzeug.exceptions import Gone, NotFound

from server.bound_backends import current_settings, current_storage
from sharer.deletion import Ending, tombstone_of
from sharer.ids import is_image_id
from sharer.key_scheme import status_key
from sharer.status import ImageStatus, decode_status
from sharer.status_documents import status_document
from sharer.storage import ObjectNotFound


class ImageExpired(Gone):
    """The image reached its ``expires_at`` and was removed."""

    description = "this image expired"


class ImageTakenDown(Gone):
    """The site's operator took the image down (``sharer-admin takedown``)."""

    description = "this image was taken down by the site's operator"


def stored_status(image_id: str) -> ImageStatus | None:
    """The status record of ``image_id``, or None if none is stored (never was, or
    deleted: the caller asks the tombstone which); ``NotFound`` for a malformed id."""
    if not is_image_id(image_id):
        raise NotFound("no image with that id")
    try:
        record = current_storage().get(status_key(image_id))
    except ObjectNotFound:
        return None
    return decode_status(record.body)


def public_status(image_id: str) -> dict[str, object]:
    """The public status of ``image_id`` (the JSON ``GET /images/<id>`` answers, from
    which the share page is rendered too); ``NotFound`` if there is no such image,
    ``Gone`` if it was deleted (``ImageExpired`` if it expired, ``ImageTakenDown`` if the
    operator took it down)."""
    status = stored_status(image_id)
    if status is None:
        tombstone = tombstone_of(current_storage(), image_id)
        if tombstone is None:
            raise NotFound("no image with that id")
        if tombstone.ending is Ending.EXPIRED:
            raise ImageExpired()
        if tombstone.ending is Ending.TAKEN_DOWN:
            raise ImageTakenDown()
        raise Gone("this image was deleted")
    return status_document(status, current_settings().common)
