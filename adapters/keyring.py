"""Per-subject encryption keys and the sealing of personal values.

Every personal value is sealed with AES-256-GCM under its subject's key, with the
subject as associated data so a ciphertext cannot be moved to another subject.
Destroying the key (crypto-shredding) erases every value of that subject at once,
while the events that carried them still replay.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import threading
import unicodedata
from collections.abc import Callable, Iterable

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from warmcase.personal import Keyring

KEY_BYTES = 32
NONCE_BYTES = 12
DIGEST_SUBJECT = "store:id-digest"
"""The subject whose key is the store's secret for keyed hashes of ID numbers."""


def new_key() -> bytes:
    """A fresh random AES-256 key."""
    return AESGCM.generate_key(bit_length=KEY_BYTES * 8)


def seal(key: bytes, subject: str, plaintext: str) -> bytes:
    """Nonce + ciphertext of `plaintext`, bound to `subject`."""
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, plaintext.encode("utf-8"), subject.encode("utf-8"))


def unseal(key: bytes, subject: str, sealed: bytes) -> str:
    """The plaintext sealed by :func:`seal` (raises if tampered with or the wrong key)."""
    nonce, ciphertext = sealed[:NONCE_BYTES], sealed[NONCE_BYTES:]
    return AESGCM(key).decrypt(nonce, ciphertext, subject.encode("utf-8")).decode("utf-8")


class Ciphers:
    """:func:`seal` (the same format), with each key's cipher
    made once and nonces drawn from the system's random source in bulk.

    For one page or one checkpoint only: it holds the keys it met.
    """

    NONCES = 256

    def __init__(self) -> None:
        self._ciphers: dict[bytes, AESGCM] = {}
        self._nonces = b""
        self._next = 0

    def cipher(self, key: bytes) -> AESGCM:
        """The cipher of `key`."""
        cipher = self._ciphers.get(key)
        if cipher is None:
            cipher = self._ciphers[key] = AESGCM(key)
        return cipher

    def seal(self, key: bytes, subject: str, plaintext: str) -> bytes:
        """Nonce + ciphertext of `plaintext`, bound to `subject`."""
        start = self._next
        if start == len(self._nonces):
            self._nonces, start = os.urandom(NONCE_BYTES * self.NONCES), 0
        self._next = start + NONCE_BYTES
        nonce = self._nonces[start : self._next]
        return nonce + self.cipher(key).encrypt(nonce, plaintext.encode(), subject.encode())


def normalised_id_number(id_number: str) -> str:
    """An ID number as compared: full-width folded to ASCII, no spaces, upper-case X."""
    folded = unicodedata.normalize("NFKC", id_number)
    return "".join(folded.split()).upper()


def id_digest(secret: bytes, id_number: str) -> str:
    """Keyed hash of an ID number: equal numbers match, the number cannot be recovered."""
    return hmac.new(secret, normalised_id_number(id_number).encode(), hashlib.sha256).hexdigest()


class SessionKeys:
    """The existing keys of one short session (one snapshot of a store's key table): one
    query per subject at first, and every key in one query once many were asked for.

    A page of a read asks for a few hundred subjects; saving a large checkpoint asks for
    every household's, where one query per key costs several times the whole table's
    (0.64 s against 0.12 s for 119,000 of 127,000 keys on SQLite, and a round trip each
    on PostgreSQL).
    """

    ONE_BY_ONE = 1_000
    """Subjects asked for one by one before the whole table is read."""

    def __init__(
        self,
        one: Callable[[str], bytes | None],
        every: Callable[[], Iterable[tuple[str, bytes]]],
    ) -> None:
        self._one = one
        self._every = every
        self._asked = 0
        self._all: dict[str, bytes] | None = None

    @property
    def whole_table_read(self) -> bool:
        """Whether every key was read in one query (answers now come from memory)."""
        return self._all is not None

    def __call__(self, subject: str) -> bytes | None:
        """The subject's key, None if it has none."""
        if self._all is None:
            self._asked += 1
            if self._asked <= self.ONE_BY_ONE:
                return self._one(subject)
            self._all = {known: bytes(key) for known, key in self._every()}
        return self._all.get(subject)


class MemoryKeyring(Keyring):
    """Keys held in process memory, for the ``memory:`` store."""

    def __init__(self) -> None:
        self._keys: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def key_for(self, subject: str, *, create: bool) -> bytes | None:
        """The subject's key, made on first use when `create`."""
        with self._lock:
            key = self._keys.get(subject)
            if key is None and create:
                key = self._keys[subject] = new_key()
            return key

    def destroy(self, subject: str) -> bool:
        """Forget the subject's key."""
        with self._lock:
            return self._keys.pop(subject, None) is not None

    def id_digest(self, id_number: str) -> str:
        """Keyed hash of `id_number` under this store's secret."""
        secret = self.key_for(DIGEST_SUBJECT, create=True)
        assert secret is not None
        return id_digest(secret, id_number)
