"""Publishing: a real moto S3 server on localhost (not a mocked client) and local folders."""

from __future__ import annotations

import socket
import time

import boto3
import pytest

from audiobook.errors import PublishError
from audiobook.publish import publish
from tests.helpers_media import make_episode

ACCESS_KEY = "AKIAAUDIOFICTESTKEY1"
SECRET_KEY = "sEcReT/audiofic+test+secret+key+do+not+leak"
EXPECTED_TYPES = {
    "a.mp3": "audio/mpeg",
    "a.vtt": "text/vtt",
    "a.chapters.json": "application/json+chapters",
    "a.jpg": "image/jpeg",
    "show.png": "image/png",
    "feed.xml": "application/rss+xml",
}


@pytest.fixture
def aws_env(monkeypatch, tmp_path):
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))


@pytest.fixture
def folder(tmp_path):
    """A published-to-be folder: an episode with sidecars and cover, show art, a feed."""
    show = tmp_path / "show"
    make_episode(show, "a", title="Chapter 1", album="W", track=1, cover=True, seconds=2)
    from PIL import Image

    Image.new("RGB", (1400, 1400), (9, 9, 9)).save(show / "show.png")
    (show / "feed.xml").write_text("<rss version='2.0'><channel/></rss>\n", encoding="utf-8")
    (show / "show.toml").write_text('title = "not published"\n', encoding="utf-8")
    (show / ".a.mp3.123.tmp").write_bytes(b"half-written")
    return show


@pytest.fixture
def bucket(s3_server, aws_env, request):
    name = "podfic-" + request.node.name.lower().replace("_", "-")[:40]
    client = boto3.client("s3", endpoint_url=s3_server)
    client.create_bucket(Bucket=name)
    return client, name


def test_s3_publish_keys_types_order_and_rerun(folder, bucket, s3_server):
    client, name = bucket
    seen = []
    result = publish(folder, f"s3://{name}/shows/mine/", endpoint_url=s3_server, progress=lambda n, a: seen.append((n, a)))
    assert sorted(result.uploaded) == sorted(EXPECTED_TYPES)
    assert result.skipped == []
    assert result.uploaded[-1] == "feed.xml"            # the feed goes last
    assert result.uploaded[0] == "a.mp3"
    assert seen == [(n, "uploaded") for n in result.uploaded]

    listing = client.list_objects_v2(Bucket=name)["Contents"]
    assert sorted(o["Key"] for o in listing) == sorted(f"shows/mine/{n}" for n in EXPECTED_TYPES)
    for file_name, kind in EXPECTED_TYPES.items():
        head = client.head_object(Bucket=name, Key=f"shows/mine/{file_name}")
        assert head["ContentType"] == kind, file_name
        assert head["ContentLength"] == (folder / file_name).stat().st_size
        expected_cache = "public, max-age=300" if file_name == "feed.xml" else "public, max-age=86400"
        assert head["CacheControl"] == expected_cache
    body = client.get_object(Bucket=name, Key="shows/mine/a.mp3")["Body"].read()
    assert body == (folder / "a.mp3").read_bytes()

    # Second run: everything is already there.
    again = publish(folder, f"s3://{name}/shows/mine", endpoint_url=s3_server)
    assert again.uploaded == []
    assert sorted(again.skipped) == sorted(EXPECTED_TYPES)

    # A changed feed is uploaded again, alone.
    (folder / "feed.xml").write_text("<rss version='2.0'><channel><title>x</title></channel></rss>\n")
    third = publish(folder, f"s3://{name}/shows/mine", endpoint_url=s3_server)
    assert third.uploaded == ["feed.xml"]


def test_s3_endpoint_from_environment(folder, bucket, s3_server, monkeypatch):
    client, name = bucket
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_server)
    result = publish(folder, f"s3://{name}")
    assert result.uploaded[-1] == "feed.xml"
    assert "feed.xml" in {o["Key"] for o in client.list_objects_v2(Bucket=name)["Contents"]}


def test_missing_bucket(folder, s3_server, aws_env):
    with pytest.raises(PublishError) as info:
        publish(folder, "s3://no-such-bucket-here/x", endpoint_url=s3_server)
    text = str(info.value)
    assert "no-such-bucket-here" in text and "does not exist" in text and s3_server in text
    assert "\n" not in text
    assert SECRET_KEY not in text and ACCESS_KEY not in text


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_unreachable_endpoint_fails_fast(folder, aws_env):
    endpoint = f"http://127.0.0.1:{_closed_port()}"
    started = time.monotonic()
    with pytest.raises(PublishError) as info:
        publish(folder, "s3://bucket/x", endpoint_url=endpoint, max_attempts=1, connect_timeout=2)
    assert time.monotonic() - started < 5
    text = str(info.value)
    assert "cannot reach" in text and endpoint in text and "--endpoint-url" in text
    assert SECRET_KEY not in text and ACCESS_KEY not in text


def test_no_secret_in_any_error(folder, s3_server, aws_env, monkeypatch):
    # Credentials in the endpoint URL and in the environment must never be echoed.
    endpoint = s3_server.replace("http://", f"http://{ACCESS_KEY}:{SECRET_KEY}@")
    messages = []
    cases = (
        ("s3://missing-bucket/p", endpoint),
        ("s3://missing-bucket/p", s3_server),
        ("s3://b/p", f"http://127.0.0.1:{_closed_port()}"),
    )
    for dest, url in cases:
        with pytest.raises(PublishError) as info:
            publish(folder, dest, endpoint_url=url, max_attempts=1, connect_timeout=2)
        messages.append(str(info.value))
    assert "must not contain a user name or password" in messages[0]
    assert s3_server in messages[0]
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with pytest.raises(PublishError) as info:
        publish(folder, "s3://b/p", endpoint_url=s3_server, max_attempts=1)
    messages.append(str(info.value))
    assert "no AWS credentials" in messages[-1]
    for text in messages:
        assert SECRET_KEY not in text and ACCESS_KEY not in text and "sEcReT" not in text


def test_missing_feed(folder, tmp_path):
    (folder / "feed.xml").unlink()
    with pytest.raises(PublishError, match="audiofic feed") as info:
        publish(folder, str(tmp_path / "site"))
    assert info.value.path == str(folder)
    assert not (tmp_path / "site").exists()


def test_local_folder_publish_and_rerun(folder, tmp_path):
    site = tmp_path / "www" / "pod"
    result = publish(folder, str(site))
    assert result.uploaded[-1] == "feed.xml"
    assert sorted(result.uploaded) == sorted(EXPECTED_TYPES)
    assert sorted(p.name for p in site.iterdir()) == sorted(EXPECTED_TYPES)  # no temp files, no show.toml
    for name in EXPECTED_TYPES:
        assert (site / name).read_bytes() == (folder / name).read_bytes()

    again = publish(folder, site.as_uri())  # file:// works too
    assert again.uploaded == [] and sorted(again.skipped) == sorted(EXPECTED_TYPES)

    (site / "a.vtt").write_text("WEBVTT\n\nchanged on the server\n")
    third = publish(folder, str(site))
    assert third.uploaded == ["a.vtt"]


def test_local_destination_is_a_file(folder, tmp_path):
    target = tmp_path / "afile"
    target.write_text("x")
    with pytest.raises(PublishError, match="not a folder"):
        publish(folder, str(target))


def test_unknown_scheme(folder):
    with pytest.raises(PublishError, match="ftp://"):
        publish(folder, "ftp://example.org/x")


def test_wrong_credentials(folder, bucket, s3_server, monkeypatch):
    """moto checks signatures once auth is switched on: unknown keys are refused."""
    from moto import settings as moto_settings

    client, name = bucket
    monkeypatch.setattr(moto_settings, "INITIAL_NO_AUTH_ACTION_COUNT", 0)
    with pytest.raises(PublishError) as info:
        publish(folder, f"s3://{name}/p", endpoint_url=s3_server, max_attempts=1)
    text = str(info.value)
    assert "access key" in text or "access denied" in text
    assert name in text and "\n" not in text
    assert SECRET_KEY not in text and ACCESS_KEY not in text


def test_missing_boto3_is_a_clear_error(folder, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "boto3", None)  # makes `import boto3` raise ImportError
    with pytest.raises(PublishError, match=r"pip install 'audiofic\[s3\]'"):
        publish(folder, "s3://bucket/prefix")
