"""SEESAW's public release archive: download into a cache folder, check every member, extract SEESAW/.

The only network access of the importers. An extracted release in the cache is reused without network.
The archive is GitHub's zip of the launchnlp/SEESAW repository; `url` (or SEESAW_URL) may name another
http(s) or file:// URL or a local path, which is how the tests run it without network.
"""

from __future__ import annotations

import hashlib
import logging
import re
import shutil
import stat
import urllib.error
import urllib.request
import zipfile
from pathlib import Path, PurePosixPath

from corpus.errors import InputError, ServiceError, atomic_path

log = logging.getLogger(__name__)

DEFAULT_URLS = (
    "https://github.com/launchnlp/SEESAW/archive/refs/heads/main.zip",
    "https://github.com/launchnlp/SEESAW/archive/refs/heads/master.zip",
)
DEFAULT_CACHE = Path("var/cache/seesaw")
MAX_ARCHIVE_BYTES = 1 << 30  # 1 GiB downloaded
MAX_EXTRACTED_BYTES = 2 << 30  # 2 GiB declared uncompressed, all members together
MAX_MEMBERS = 200_000
_CHUNK = 1 << 20
_ROOT = re.compile(r"^(?:(.*)/)?SEESAW/annotations/[^/]+\.json$")


def fetch_seesaw(cache: str | Path = DEFAULT_CACHE, url: str | None = None, timeout: float = 60.0) -> Path:
    """The release's SEESAW/ folder inside `cache`, downloading and extracting the archive when missing."""
    cache = Path(cache)
    urls = (url,) if url else DEFAULT_URLS
    key = hashlib.sha256("\n".join(urls).encode()).hexdigest()[:12]
    folder = cache / key / "SEESAW"
    if (folder / "annotations").is_dir():
        log.info("SEESAW: using the release extracted in %s", folder)
        return folder
    archive = cache / f"{key}.zip"
    if not archive.is_file():
        download(urls, archive, timeout)
    try:
        extract_seesaw(archive, folder)
    except InputError:
        archive.unlink(missing_ok=True)  # a bad archive must not stick in the cache
        raise
    return folder


def download(urls: tuple[str, ...], target: Path, timeout: float = 60.0) -> None:
    """Fetch the first of `urls` that exists into `target` (atomically); ServiceError when none can be had."""
    last: ServiceError | None = None
    for url in urls:
        try:
            _fetch(url, target, timeout)
            return
        except ServiceError as e:
            last = e
            if "HTTP 404" not in e.what:
                break
    assert last is not None
    raise last


def _fetch(url: str, target: Path, timeout: float) -> None:
    scheme = url.split(":", 1)[0].lower() if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", url) else ""
    if not scheme:  # a local path
        source = Path(url)
        if not source.is_file():
            raise InputError(source, "release archive not found")
        with atomic_path(target) as tmp:
            shutil.copyfile(source, tmp)
        return
    if scheme not in ("http", "https", "file"):
        raise InputError(url, "only http(s), file:// URLs or local paths are supported")
    hint = "no network? set SEESAW_DIR or pass DIR pointing at a copy of the release"
    log.info("SEESAW: downloading %s", url)
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, atomic_path(target) as tmp:  # noqa: S310
            size = 0
            with tmp.open("wb") as fh:
                while chunk := response.read(_CHUNK):
                    size += len(chunk)
                    if size > MAX_ARCHIVE_BYTES:
                        raise ServiceError(url, f"archive larger than {MAX_ARCHIVE_BYTES >> 20} MiB; refusing it")
                    fh.write(chunk)
    except urllib.error.HTTPError as e:
        raise ServiceError(url, f"cannot download the SEESAW release (HTTP {e.code})") from None
    except urllib.error.URLError as e:
        raise ServiceError(url, f"cannot download the SEESAW release ({_one_line(e.reason)}); {hint}") from None
    except (TimeoutError, OSError) as e:
        raise ServiceError(url, f"cannot download the SEESAW release ({_one_line(e)}); {hint}") from None


def _one_line(reason: object) -> str:
    return " ".join(str(reason).split())


def check_members(zf: zipfile.ZipFile, archive: Path) -> list[zipfile.ZipInfo]:
    """Every member, after refusing absolute paths, '..', links, and archives too big to be the release."""
    infos = zf.infolist()
    if len(infos) > MAX_MEMBERS:
        raise InputError(archive, f"{len(infos)} members; refusing an archive of more than {MAX_MEMBERS}")
    total = 0
    for info in infos:
        name = info.filename
        parts = PurePosixPath(name).parts
        if (name.startswith(("/", "\\")) or "\\" in name or "\x00" in name or re.match(r"^[A-Za-z]:", name)
                or ".." in parts):
            raise InputError(archive, f"unsafe member {name!r} (absolute path or '..'); refusing to extract")
        if stat.S_ISLNK(info.external_attr >> 16):
            raise InputError(archive, f"member {name!r} is a symbolic link; refusing to extract")
        total += info.file_size
    if total > MAX_EXTRACTED_BYTES:
        raise InputError(archive, f"would extract {total >> 20} MiB; refusing more than {MAX_EXTRACTED_BYTES >> 20}")
    return infos


def extract_seesaw(archive: Path, folder: Path) -> Path:
    """Extract the archive's SEESAW/ folder (only that) into `folder`, atomically; returns `folder`."""
    try:
        with zipfile.ZipFile(archive) as zf:
            infos = check_members(zf, archive)
            roots = sorted({m.group(1) or "" for i in infos if (m := _ROOT.match(i.filename))}, key=len)
            if not roots:
                raise InputError(archive, "no SEESAW/annotations/ folder in the archive; is it the SEESAW release?")
            prefix = f"{roots[0]}/SEESAW/" if roots[0] else "SEESAW/"
            with atomic_path(folder) as staged:
                staged.mkdir(parents=True)
                base = staged.resolve()
                for info in infos:
                    if info.is_dir() or not info.filename.startswith(prefix):
                        continue
                    dest = (staged / info.filename[len(prefix):]).resolve()
                    if base not in dest.parents:
                        raise InputError(archive, f"unsafe member {info.filename!r}; refusing to extract")
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    with zf.open(info) as src, dest.open("wb") as out:
                        shutil.copyfileobj(src, out, _CHUNK)
    except zipfile.BadZipFile as e:
        raise InputError(archive, f"not a zip archive ({e})") from None
    log.info("SEESAW: extracted %s into %s", archive, folder)
    return folder
