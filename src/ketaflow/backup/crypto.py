"""The backup file's encryption: AES-256-GCM in authenticated chunks (no Django).

A file is a plain header, then chunks::

    header  = MAGIC (16 bytes) | format (1) | key id (8) | file id (16)
    chunk   = final flag (1) | ciphertext length (4, big-endian) | nonce (12) | ciphertext

Each chunk's ciphertext is AES-GCM over up to ``CHUNK_SIZE`` bytes of the zlib-compressed
content, with the header, the chunk's index and its final flag as associated data: a chunk
changed, swapped, moved into another file, dropped from the end or added after the final one is
refused. The key id (a hash of the key, not the key) tells a wrong key from a damaged file. The
writer and the reader hold one chunk at a time, so a large audit trail streams.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
import struct
import zlib
from collections.abc import Iterator
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MAGIC = b"KETAFLOW-BACKUP\x00"
FORMAT = 1
KEY_PREFIX = "kfb1:"
CHUNK_SIZE = 1 << 20
_FRAME = struct.Struct(">BI")
_HEADER_SIZE = len(MAGIC) + 1 + 8 + 16


class BackupFileError(ValueError):
    """The file cannot be read as a backup: wrong key, damaged, not a backup (one line)."""


def key_generate() -> str:
    """A new backup key in its text form (``kfb1:`` and 32 random bytes, base64url)."""
    return KEY_PREFIX + base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")


def key_parse(text: str, *, source: str) -> bytes:
    """The 32 bytes of a key written by :func:`key_generate`; ``source`` names where it came
    from in the error."""
    text = text.strip()
    if not text.startswith(KEY_PREFIX):
        raise BackupFileError(
            f"{source}: not a backup key (it starts with {KEY_PREFIX!r}; make one with "
            "`ketaflow backup keygen`)"
        )
    body = text.removeprefix(KEY_PREFIX)
    try:
        key = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except (ValueError, TypeError):
        raise BackupFileError(f"{source}: the key is not valid base64") from None
    if len(key) != 32:
        raise BackupFileError(f"{source}: the key must be 32 bytes, not {len(key)}")
    return key


def key_id(key: bytes) -> bytes:
    return hashlib.sha256(b"ketaflow-backup-key-id:" + key).digest()[:8]


class EncryptedWriter:
    """Compresses, then encrypts, what is written to it into ``out``."""

    def __init__(self, out: BinaryIO, key: bytes) -> None:
        self._out = out
        self._aead = AESGCM(key)
        self._header = MAGIC + bytes([FORMAT]) + key_id(key) + os.urandom(16)
        self._zip = zlib.compressobj(6)
        self._buffer = bytearray()
        self._index = 0
        out.write(self._header)

    def write(self, data: bytes) -> None:
        self._buffer += self._zip.compress(data)
        while len(self._buffer) >= CHUNK_SIZE:
            self._emit(bytes(self._buffer[:CHUNK_SIZE]), final=False)
            del self._buffer[:CHUNK_SIZE]

    def close(self) -> None:
        self._buffer += self._zip.flush()
        while len(self._buffer) > CHUNK_SIZE:
            self._emit(bytes(self._buffer[:CHUNK_SIZE]), final=False)
            del self._buffer[:CHUNK_SIZE]
        self._emit(bytes(self._buffer), final=True)
        self._buffer.clear()

    def _emit(self, plain: bytes, *, final: bool) -> None:
        nonce = os.urandom(12)
        sealed = self._aead.encrypt(nonce, plain, self._aad(self._index, final))
        self._out.write(_FRAME.pack(int(final), len(sealed)) + nonce + sealed)
        self._index += 1

    def _aad(self, index: int, final: bool) -> bytes:
        return self._header + struct.pack(">QB", index, int(final))


def decrypted_chunks(source: BinaryIO, key: bytes) -> Iterator[bytes]:
    """The decompressed content of the file, chunk by chunk; raises :class:`BackupFileError`
    on a wrong key, a damaged or truncated file, or one that is not a backup."""
    header = source.read(_HEADER_SIZE)
    if len(header) < _HEADER_SIZE or not header.startswith(MAGIC):
        raise BackupFileError("not a KetaFlow backup file (its header is missing or damaged)")
    if header[len(MAGIC)] != FORMAT:
        raise BackupFileError(
            f"backup file format {header[len(MAGIC)]} is not supported (this KetaFlow reads "
            f"format {FORMAT})"
        )
    if header[len(MAGIC) + 1 : len(MAGIC) + 9] != key_id(key):
        raise BackupFileError(
            "wrong key: the file was encrypted with another backup key (KETAFLOW_BACKUP_KEY or "
            "--key-file)"
        )
    aead = AESGCM(key)
    unzip = zlib.decompressobj()
    index = 0
    while True:
        frame = source.read(_FRAME.size)
        if len(frame) < _FRAME.size:
            raise BackupFileError("the file is damaged: it ends before its last chunk (truncated)")
        final, length = _FRAME.unpack(frame)
        nonce = source.read(12)
        sealed = source.read(length)
        if final not in (0, 1) or len(nonce) < 12 or len(sealed) < length:
            raise BackupFileError(f"the file is damaged: chunk {index} is truncated")
        aad = header + struct.pack(">QB", index, final)
        try:
            plain = aead.decrypt(nonce, sealed, aad)
        except InvalidTag:
            raise BackupFileError(
                f"the file is damaged: chunk {index} fails its authentication check"
            ) from None
        try:
            yield unzip.decompress(plain)
            if final:
                yield unzip.flush()
        except zlib.error:
            raise BackupFileError(
                f"the file is damaged: chunk {index} does not decompress"
            ) from None
        index += 1
        if final:
            break
    if source.read(1):
        raise BackupFileError("the file is damaged: data follows its last chunk")
