"""The promoted model bundle on disk, server side: find the champion, verify it, then load it.

Layout of the models directory (written by `training.bundle.write_bundle_dir`, defined here so the
writer and the reader share one definition and the server never imports training code):

    models/
      CHAMPION                  one line: the champion's version, e.g. "7"
      versions/<version>/
        manifest.json           {version, created_at, sha256: {file: hex}, as_of, metrics, ...}
        bundle.joblib           the pickled bundle object

A version directory is complete and immutable once it carries its name (it is written under a temp
name and renamed), and `CHAMPION` is replaced atomically, so a reader sees either the old or the new
champion, never a mix. Pickles are code: every file listed in the manifest is checked against its
SHA-256 before anything is unpickled, and the bytes that were hashed are the bytes that are unpickled.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib

from features.settings import get_settings

VERSIONS_DIR = "versions"
CHAMPION_FILE = "CHAMPION"
MANIFEST_FILE = "manifest.json"
BUNDLE_FILE = "bundle.joblib"

# A version names a directory: allow only what MLflow versions (and tests) look like, so a tampered
# pointer cannot walk out of models/versions/ ("../..").
_VERSION_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_CHUNK = 1 << 20


class BundleError(Exception):
    """The bundle cannot be used: missing, incomplete, or failing its checksums."""


@dataclass
class LoadedBundle:
    bundle: object
    manifest: dict[str, Any]
    version: str
    path: Path


def is_valid_version(version: str) -> bool:
    """Whether `version` is safe to use as a directory name under versions/."""
    return bool(_VERSION_RE.fullmatch(version)) and ".." not in version


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read in chunks (bundles can be large)."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _models_dir(models_dir: Path | str | None) -> Path:
    if models_dir is not None:
        return Path(models_dir)

    return get_settings().models_dir


def read_champion_pointer(models_dir: Path | str | None = None) -> str | None:
    """The champion's version from models_dir/CHAMPION, or None if nothing was promoted yet.

    Cheap (one small read), meant for polling whether a new champion appeared.
    """
    pointer = _models_dir(models_dir) / CHAMPION_FILE
    try:
        version = pointer.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    if not is_valid_version(version):
        raise BundleError(f"{pointer} does not name a version: {version[:40]!r}")
    return version


def load_champion(models_dir: Path | str | None = None) -> LoadedBundle:
    """Load and verify the version `CHAMPION` points to."""
    root = _models_dir(models_dir)
    version = read_champion_pointer(root)
    if version is None:
        raise BundleError(f"no champion in {root}: run `kompetensi promote` first")
    return load_version(root, version)


def load_version(models_dir: Path | str | None, version: str) -> LoadedBundle:
    """Load one version directory after checking every file of its manifest against its SHA-256."""
    if not is_valid_version(str(version)):
        raise BundleError(f"not a valid version: {str(version)[:40]!r}")
    path = _models_dir(models_dir) / VERSIONS_DIR / str(version)
    manifest = read_manifest(path)
    if str(manifest.get("version")) != str(version):
        found = manifest.get("version")
        raise BundleError(f"{path / MANIFEST_FILE} is for version {found!r}, not {version!r}")
    verified = verify_files(path, manifest)
    # Unpickle the very bytes that were hashed: re-reading the file would leave a window for a swap.
    try:
        bundle = joblib.load(io.BytesIO(verified[BUNDLE_FILE]))
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means an unusable bundle
        reason = f"{type(exc).__name__}: {exc}"
        raise BundleError(f"{path / BUNDLE_FILE} verified but cannot be loaded: {reason}") from exc
    return LoadedBundle(bundle=bundle, manifest=manifest, version=str(version), path=path)


def read_manifest(path: Path) -> dict[str, Any]:
    """The parsed manifest of a version directory (JSON only: reading it runs no code)."""
    manifest_path = path / MANIFEST_FILE
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BundleError(f"{manifest_path} is missing") from None
    except (OSError, ValueError) as exc:
        raise BundleError(f"{manifest_path} is unreadable: {exc}") from exc
    if not isinstance(manifest, dict) or not isinstance(manifest.get("sha256"), dict):
        raise BundleError(f"{manifest_path} has no sha256 table")
    return manifest


def verify_files(path: Path, manifest: dict[str, Any]) -> dict[str, bytes]:
    """Check every file listed in the manifest; return the contents of the verified pickles.

    The bundle itself must be listed: a manifest that omits it would let an unverified pickle load.
    """
    checksums: dict[str, Any] = manifest["sha256"]
    if BUNDLE_FILE not in checksums:
        raise BundleError(f"{path / MANIFEST_FILE} lists no checksum for {BUNDLE_FILE}")
    contents: dict[str, bytes] = {}
    for name, expected in sorted(checksums.items()):
        if Path(name).name != name or name in (".", ".."):
            raise BundleError(f"{path / MANIFEST_FILE} lists a file outside its directory: {name!r}")
        file = path / name
        try:
            if name == BUNDLE_FILE:
                data = file.read_bytes()
                actual = sha256_bytes(data)
                contents[name] = data
            else:
                actual = sha256_file(file)
        except FileNotFoundError:
            raise BundleError(f"{file} is missing") from None
        except OSError as exc:
            raise BundleError(f"{file} is unreadable: {exc}") from exc
        if actual != expected:
            raise BundleError(f"{file} does not match its checksum in the manifest (corrupt or modified)")
    return contents
