"""Where S3 is configured the recordings page uploads straight to the bucket (moto in server
mode stands in for S3): the server presigns, Chromium POSTs the file to the bucket with the
progress bar, the server checks it on complete. The file never goes to the app's upload route."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer
from playwright.sync_api import BrowserContext, Request, expect

from tests.audio_samples import encoded, tone_pcm, wav
from tests.browser.harness import Server, start_server
from tests.browser.test_notes_page import sign_up

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
               "AWS_DEFAULT_REGION": "us-east-1"}


@pytest.fixture(scope="module")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str]]:
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    host, port = moto.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    bucket = f"rec-{uuid.uuid4().hex[:8]}"
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                      aws_access_key_id="testing", aws_secret_access_key="testing")
    s3.create_bucket(Bucket=bucket)
    tmp: Path = tmp_path_factory.mktemp("collab-s3")
    env = {**CREDENTIALS, "STORAGE_URL": f"s3://{bucket}/media", "S3_ENDPOINT_URL": endpoint,
           "S3_PUBLIC_ENDPOINT_URL": endpoint,
           "AWS_CONFIG_FILE": str(tmp / "none"), "AWS_SHARED_CREDENTIALS_FILE": str(tmp / "none")}
    try:
        for server in start_server(tmp, env):
            yield server, endpoint
    finally:
        moto.stop()


def test_the_page_uploads_straight_to_s3(
    s3_server: tuple[Server, str], new_context: Callable[..., BrowserContext], tmp_path: Path
) -> None:
    server, endpoint = s3_server
    page, _ = sign_up(new_context(), server, "Sam Storage")
    posts: list[Request] = []
    page.on("request", lambda r: posts.append(r) if r.method == "POST" else None)
    page.goto(f"{server.url}/recordings")
    expect(page.get_by_text(re.compile(r"up to 100 MB"))).to_be_visible()
    audio = encoded(wav(tone_pcm(1.2)), "ogg")
    page.locator("input[type=file]").set_input_files(
        {"name": "tune.ogg", "mimeType": "audio/ogg", "buffer": audio})
    page.get_by_label("Transcribe it now").uncheck()
    page.get_by_role("button", name="Upload").click()
    recordings = page.get_by_role("list", name="My recordings")
    expect(recordings.get_by_role("button", name=re.compile("tune"))).to_be_visible()
    expect(recordings).to_contain_text("ogg")
    expect(page.get_by_role("heading", name="tune", level=2)).to_be_visible()
    urls = [r.url for r in posts]
    assert any(u.startswith(endpoint) for u in urls), urls  # the bytes went to the bucket
    assert not any(u.endswith("/api/workbook/audio") for u in urls), urls  # not through us
    assert any(re.search(r"/api/workbook/audio/uploads/[0-9a-f-]+/complete$", u) for u in urls)
    # The player plays it back from the store.
    page.wait_for_function("() => document.querySelector('audio')?.duration > 1")

    # A file over the server's limit is refused before a byte is sent.
    big = tmp_path / "huge.wav"
    with big.open("wb") as file:
        file.truncate(100 * 2**20 + 1)  # sparse: nothing is written
    page.locator("input[type=file]").set_input_files(str(big))
    before = len(posts)
    page.get_by_role("button", name="Upload").click()
    expect(page.get_by_text("the file is larger than 100 MB")).to_be_visible()
    assert len(posts) == before
