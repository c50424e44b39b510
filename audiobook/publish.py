"""Stage: publish. A folder with feed.xml -> a copy on a web server's folder or S3 bucket.

Media (episodes, sidecars, artwork) go first and feed.xml last, so a published feed never
names a file that is not there yet. Files already at the destination with the same content
are skipped, so running publish twice uploads nothing the second time.

Destinations: a local folder (path or file:// URL) or s3://bucket/prefix on any
S3-compatible service (endpoint from `endpoint_url`, else AWS_ENDPOINT_URL as boto3 reads
it; credentials from the standard AWS environment variables, config files or roles).

boto3 is optional (`pip install 'audiofic[s3]'`) and lives here and nowhere else.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname

from .errors import PublishError

FEED_NAME = "feed.xml"
FEED_CACHE_CONTROL = "public, max-age=300"
MEDIA_CACHE_CONTROL = "public, max-age=86400"

# Set explicitly: Python's mimetypes gets several of these wrong or does not know them.
CONTENT_TYPES = {
    ".mp3": "audio/mpeg",
    ".vtt": "text/vtt",
    ".chapters.json": "application/json+chapters",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".xml": "application/rss+xml",
}

Progress = Callable[[str, str], None]
"""progress(name, action): called once per file, action "uploaded" or "skipped"."""


@dataclass
class PublishResult:
    uploaded: list[str] = field(default_factory=list)   # file names, in upload order (feed.xml last)
    skipped: list[str] = field(default_factory=list)    # already there with the same content
    destination: str = ""


def is_feed(name: str) -> bool:
    """feed.xml, or one show's feed-<work>.xml (`audiofic feed --split-shows`)."""
    lower = name.lower()
    return lower == FEED_NAME or (lower.startswith("feed-") and lower.endswith(".xml"))


def content_type(name: str) -> str | None:
    """The Content-Type for a file audiofic publishes, or None if it is not one."""
    lower = name.lower()
    if is_feed(lower):
        return CONTENT_TYPES[".xml"]
    for suffix in (".chapters.json", ".mp3", ".vtt", ".jpg", ".jpeg", ".png"):
        if lower.endswith(suffix):
            return CONTENT_TYPES[suffix]
    return None


def cache_control(name: str) -> str:
    return FEED_CACHE_CONTROL if is_feed(name) else MEDIA_CACHE_CONTROL


def plan(folder: Path) -> list[Path]:
    """The files to publish in upload order: episodes, sidecars, artwork, then the feeds
    (feed.xml last)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise PublishError("no such folder; give the folder holding the episodes and feed.xml", folder)
    feed = folder / FEED_NAME
    if not feed.is_file():
        raise PublishError("no feed.xml in this folder; run `audiofic feed` on it first", folder)

    def rank(path: Path) -> int:
        kind = content_type(path.name)
        return {"audio/mpeg": 0, "text/vtt": 1, "application/json+chapters": 1}.get(kind, 2)

    files = [
        p for p in folder.iterdir()
        if p.is_file() and not p.name.startswith(".") and p.name != FEED_NAME and content_type(p.name)
    ]
    for path in [feed, *(p for p in files if is_feed(p.name))]:
        _check_enclosures(path, folder)
    return sorted(files, key=lambda p: (is_feed(p.name), rank(p), p.name)) + [feed]


def _check_enclosures(feed: Path, folder: Path) -> None:
    """A feed that names an episode the folder does not have (deleted since the feed was
    written) would send every listener's app to a 404: refuse it before uploading anything."""
    from lxml import etree   # feedgen's dependency; the feed stage writes with it too

    try:
        root = etree.parse(str(feed), etree.XMLParser(resolve_entities=False, no_network=True)).getroot()
    except (OSError, etree.XMLSyntaxError) as exc:
        raise PublishError(f"not a readable feed ({' '.join(str(exc).split())[:120]}); run `audiofic feed` again", feed) from None
    for enclosure in root.iterfind("channel/item/enclosure"):
        name = unquote(urlsplit(enclosure.get("url", "")).path.rsplit("/", 1)[-1])
        if not name or not (folder / name).is_file():
            raise PublishError(f"names the episode {name or '(none)'}, which is not in the folder; "
                               "run `audiofic feed` again to write a feed of what is there", feed)


def _digests(path: Path) -> tuple[str, str]:
    """(sha256 hex, md5 hex) of a file, read once."""
    sha, md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            sha.update(block)
            md5.update(block)
    return sha.hexdigest(), md5.hexdigest()


def publish(
    folder: Path,
    dest: str,
    *,
    endpoint_url: str | None = None,
    progress: Progress | None = None,
    max_attempts: int = 3,
    connect_timeout: float = 10.0,
) -> PublishResult:
    """Copy the episodes, sidecars, artwork and finally feed.xml of `folder` to `dest`.

    `dest` is a folder path, a file:// URL or s3://bucket[/prefix]. `max_attempts` and
    `connect_timeout` tune S3 retries. Raises PublishError with one line naming the
    destination and what to do (never a credential).
    """
    files = plan(Path(folder))
    dest = str(dest).strip()
    shown, userinfo = _split_userinfo(dest)
    if userinfo:    # a password in a URL ends up in shell history and logs; never echo it
        raise PublishError("the destination must not hold a user name or password; give credentials with "
                           "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE)", shown)
    scheme = urlsplit(dest).scheme.lower() if "://" in dest else ""
    if scheme == "s3":
        return _publish_s3(files, dest, endpoint_url, progress, max_attempts, connect_timeout)
    if scheme == "file":
        parts = urlsplit(dest)
        if parts.netloc not in ("", "localhost"):
            raise PublishError("file:// URLs must name a local folder (file:///path/to/folder)", dest)
        return _publish_local(files, Path(url2pathname(parts.path)), dest, progress)
    if scheme:
        raise PublishError(f"cannot publish to {scheme}:// URLs; give a folder, file:// or s3://bucket/prefix", dest)
    return _publish_local(files, Path(dest).expanduser(), dest, progress)


# --- local folder -----------------------------------------------------------------------------


def _same_file(src: Path, target: Path) -> bool:
    try:
        if not target.is_file() or target.stat().st_size != src.stat().st_size:
            return False
    except OSError:
        return False
    return _digests(src)[0] == _digests(target)[0]


def _copy_atomic(src: Path, target: Path) -> None:
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(fd, "wb") as out, open(src, "rb") as handle:
            shutil.copyfileobj(handle, out, 1 << 20)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _publish_local(files: list[Path], target_dir: Path, dest: str, progress: Progress | None) -> PublishResult:
    result = PublishResult(destination=str(target_dir))
    try:
        target_dir.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise PublishError("exists and is not a folder; give a folder to publish into", dest) from None
    except OSError as exc:
        raise PublishError(f"cannot create the folder ({exc.strerror or exc}); check the path and permissions", dest) from None
    for src in files:
        target = target_dir / src.name
        if _same_file(src, target):
            result.skipped.append(src.name)
            action = "skipped"
        else:
            try:
                _copy_atomic(src, target)
            except OSError as exc:
                raise PublishError(
                    f"cannot copy {src.name} there ({exc.strerror or exc}); check free space and permissions", dest
                ) from None
            result.uploaded.append(src.name)
            action = "uploaded"
        if progress is not None:
            progress(src.name, action)
    return result


# --- S3 -------------------------------------------------------------------------------------


def _split_userinfo(url: str) -> tuple[str, str]:
    """(URL without any user:password@ part, that part). Never raises, even on odd URLs."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        scheme, rest = "", url
    end = min((i for i in (rest.find("?"), rest.find("#")) if i >= 0), default=len(rest))
    head, tail = rest[:end], rest[end:]
    userinfo, at, host = head.rpartition("@")
    return (f"{scheme}{sep}{host if at else head}{tail}", userinfo if at else "")


def _safe_endpoint(url: str | None) -> str:
    """An endpoint URL fit to show: without any user:password@ part, query or fragment."""
    if not url:
        return "the default AWS S3 endpoint"
    return _split_userinfo(url)[0].split("?")[0].split("#")[0]


class _Scrubber:
    """Removes credentials from any text that might reach the user."""

    def __init__(self, *secrets: str | None):
        self.secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text


def _publish_s3(files, dest, endpoint_url, progress, max_attempts, connect_timeout) -> PublishResult:
    try:
        import boto3
        from botocore.config import Config
        from botocore.exceptions import (
            BotoCoreError,
            ClientError,
            ConnectionClosedError,
            ConnectTimeoutError,
            EndpointConnectionError,
            NoCredentialsError,
            PartialCredentialsError,
            ReadTimeoutError,
        )
    except ImportError:
        raise PublishError("publishing to S3 needs boto3; install it with: pip install 'audiofic[s3]'", dest) from None

    parts = urlsplit(dest)
    bucket, prefix = parts.netloc, parts.path.strip("/")
    if not bucket:
        raise PublishError("no bucket named; give s3://bucket or s3://bucket/prefix", dest)
    endpoint_url = endpoint_url or None
    custom_endpoint = endpoint_url or os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    if custom_endpoint:
        shown = _safe_endpoint(custom_endpoint)
        if _split_userinfo(custom_endpoint)[1]:
            raise PublishError(
                f"endpoint URL {shown} must not contain a user name or password; "
                "give credentials with AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE)",
                dest,
            )
        if not custom_endpoint.lower().startswith(("http://", "https://")):
            raise PublishError(f"endpoint URL {shown} must start with https:// or http://", dest)

    settings = dict(
        retries={"max_attempts": max(1, max_attempts), "mode": "standard"},
        connect_timeout=connect_timeout,
        read_timeout=max(60.0, connect_timeout),
    )
    if custom_endpoint:
        settings["s3"] = {"addressing_style": "path"}  # what MinIO, Garage, moto and most others want
    try:  # botocore >= 1.36: only send checksums when required (many S3-compatible servers reject the new ones)
        config = Config(request_checksum_calculation="when_required",
                        response_checksum_validation="when_required", **settings)
    except TypeError:  # pragma: no cover - older botocore
        config = Config(**settings)

    scrub = _Scrubber(
        os.environ.get("AWS_ACCESS_KEY_ID"), os.environ.get("AWS_SECRET_ACCESS_KEY"), os.environ.get("AWS_SESSION_TOKEN")
    )
    try:
        session = boto3.session.Session()
        credentials = session.get_credentials()
        if credentials is not None:
            frozen = credentials.get_frozen_credentials()
            scrub = _Scrubber(*scrub.secrets, frozen.access_key, frozen.secret_key, frozen.token)
        client = session.client("s3", endpoint_url=endpoint_url, config=config)
    except ValueError as exc:
        raise PublishError(f"bad S3 endpoint or settings ({scrub(str(exc))}); check --endpoint-url", dest) from None
    except BotoCoreError as exc:
        raise PublishError(f"cannot set up S3 ({scrub(str(exc))}); check your AWS configuration", dest) from None
    where = _safe_endpoint(client.meta.endpoint_url)

    def fail(exc: Exception, doing: str) -> PublishError:
        if isinstance(exc, (NoCredentialsError, PartialCredentialsError)):
            return PublishError(
                "no AWS credentials found; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
                "(or AWS_PROFILE) for the account that owns the bucket",
                dest,
            )
        if isinstance(exc, (EndpointConnectionError, ConnectTimeoutError, ConnectionClosedError, ReadTimeoutError)):
            return PublishError(
                f"cannot reach the S3 endpoint {where}; check --endpoint-url (or AWS_ENDPOINT_URL) and the network",
                dest,
            )
        if isinstance(exc, ClientError):
            error = exc.response.get("Error", {})
            code = str(error.get("Code", ""))
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code in ("NoSuchBucket", "404", "NotFound") and doing == "check":
                return PublishError(f"bucket {bucket!r} does not exist at {where}; create it or fix the name", dest)
            if code == "NoSuchBucket":
                return PublishError(f"bucket {bucket!r} does not exist at {where}; create it or fix the name", dest)
            if code in ("InvalidAccessKeyId", "InvalidToken", "ExpiredToken", "TokenRefreshRequired"):
                return PublishError(
                    f"{where} does not accept the access key (or session token); check AWS_ACCESS_KEY_ID / your AWS profile",
                    dest,
                )
            if code == "SignatureDoesNotMatch":
                return PublishError(
                    f"{where} rejected the request signature; check AWS_SECRET_ACCESS_KEY matches the access key",
                    dest,
                )
            if code in ("PermanentRedirect", "AuthorizationHeaderMalformed", "301", "IllegalLocationConstraintException"):
                return PublishError(
                    f"bucket {bucket!r} is in another region; set AWS_REGION (or AWS_DEFAULT_REGION) to its region",
                    dest,
                )
            if code in ("AccessDenied", "403", "Forbidden", "AllAccessDisabled") or status == 403:
                return PublishError(
                    f"access denied to bucket {bucket!r} at {where}; check the credentials and that they may write to it",
                    dest,
                )
            message = scrub(str(error.get("Message") or code or status))
            return PublishError(f"S3 refused to {doing} ({message}); check the bucket and credentials", dest)
        return PublishError(f"S3 failed to {doing} ({scrub(str(exc))}); try again or check the endpoint", dest)

    errors = (BotoCoreError, ClientError)
    try:
        client.head_bucket(Bucket=bucket)
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code not in ("403", "AccessDenied", "Forbidden"):
            raise fail(exc, "check") from None
        # A key allowed to write objects but not to list the bucket: carry on and let the
        # uploads say whether the credentials work.
    except errors as exc:
        raise fail(exc, "check") from None

    result = PublishResult(destination=f"s3://{bucket}/{prefix}".rstrip("/") + "/")
    for src in files:
        key = f"{prefix}/{src.name}" if prefix else src.name
        size = src.stat().st_size
        sha, md5 = _digests(src)
        try:
            try:
                head = client.head_object(Bucket=bucket, Key=key)
            except ClientError as exc:
                if str(exc.response.get("Error", {}).get("Code", "")) not in ("404", "NoSuchKey", "NotFound", "403"):
                    raise
                head = None
            same = (
                head is not None
                and head.get("ContentLength") == size
                and (
                    head.get("Metadata", {}).get("sha256") == sha
                    or head.get("ETag", "").strip('"') == md5
                )
                and head.get("ContentType") == content_type(src.name)
                and head.get("CacheControl") == cache_control(src.name)
            )
            if same:
                result.skipped.append(src.name)
                action = "skipped"
            else:
                with open(src, "rb") as body:
                    client.put_object(
                        Bucket=bucket,
                        Key=key,
                        Body=body,
                        ContentLength=size,
                        ContentMD5=base64.b64encode(bytes.fromhex(md5)).decode("ascii"),
                        ContentType=content_type(src.name),
                        CacheControl=cache_control(src.name),
                        Metadata={"sha256": sha},
                    )
                result.uploaded.append(src.name)
                action = "uploaded"
        except errors as exc:
            raise fail(exc, f"upload {src.name}") from None
        except OSError as exc:
            raise PublishError(f"cannot read {src.name} ({exc.strerror or exc}); check the file", src) from None
        if progress is not None:
            progress(src.name, action)
    return result
