"""C2PA manifests: a signed, machine-readable statement inside the MP4 that the renderer made it.

Viewers and platforms that read Content Credentials (C2PA) see the claim
``c2pa.created`` with the IPTC digital source type *composite with trained
algorithmic media* (a drawn mouth in a real face), the generator, and our own
assertion with the consent record's and the reference footage's SHA-256.
Signing needs the user's certificate chain and private key (PEM): C2PA trust
comes from who signs, so no key ships with us. The manifest is written into
the temporary file before it takes the output's name, so an output is either
fully signed or not there.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from visemes.errors import VisemesError, file_error

# a drawn mouth composited into a real face
DIGITAL_SOURCE_TYPE = "http://cv.iptc.org/newscodes/digitalsourcetype/compositeWithTrainedAlgorithmicMedia"
ASSERTION = "org.visemes.render"  # our own assertion: what the video was made from


def _c2pa():
    try:
        import c2pa
    except ImportError:
        raise VisemesError("C2PA manifests need the c2pa-python package: pip install 'visemes[render]'") from None
    return c2pa


def _algorithm(key_pem: bytes, key: Path) -> str:
    """The C2PA signing algorithm that fits the private key."""
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    try:
        k = load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError) as e:
        raise file_error(key, f"not an unencrypted PEM private key ({e})") from None
    if isinstance(k, ec.EllipticCurvePrivateKey):
        algs = {"secp256r1": "es256", "secp384r1": "es384", "secp521r1": "es512"}
        if k.curve.name not in algs:
            raise file_error(key, f"C2PA cannot sign with curve {k.curve.name}")
        return algs[k.curve.name]
    if isinstance(k, rsa.RSAPrivateKey):
        return "ps256"
    if isinstance(k, ed25519.Ed25519PrivateKey):
        return "ed25519"
    raise file_error(key, "C2PA signs with EC (P-256/384/521), RSA or Ed25519 keys")


def signer(cert: str | Path, key: str | Path):
    """A C2PA signer from a PEM certificate chain (signing certificate first) and its PEM private key."""
    c2pa = _c2pa()
    cert, key = Path(cert), Path(key)
    pems = {}
    for path in (cert, key):
        try:
            pems[path] = path.read_bytes()
        except OSError as e:
            raise file_error(path, f"cannot read ({e.strerror or e})") from None
    if b"-----BEGIN CERTIFICATE-----" not in pems[cert]:
        raise file_error(cert, "not a PEM certificate chain")
    alg = _algorithm(pems[key], key)
    info = c2pa.C2paSignerInfo(alg=alg.encode(), sign_cert=pems[cert], private_key=pems[key], ta_url=None)
    try:
        return c2pa.Signer.from_info(info)
    except c2pa.C2paError as e:
        raise file_error(cert, f"C2PA refused the certificate or key ({e})") from None


def manifest(title: str, tags: dict[str, str], version: str) -> dict:
    """The manifest of one rendered video: created by a trained model, from a consenting person's footage."""
    return {
        "claim_generator_info": [{"name": "visemes", "version": version}],
        "title": title,
        "assertions": [
            {"label": "c2pa.actions", "data": {"actions": [{
                "action": "c2pa.created", "digitalSourceType": DIGITAL_SOURCE_TYPE,
                "softwareAgent": {"name": "visemes render", "version": version},
                "description": tags["description"]}]}},
            {"label": ASSERTION, "data": {k: tags[k] for k in ("consent_sha256", "reference_sha256", "label")}},
        ],
    }


def sign(path: Path, sign_with, content: dict) -> None:
    """Embed ``content`` signed by ``sign_with`` into the MP4 at ``path`` (rewritten in place, atomically)."""
    c2pa = _c2pa()
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".c2pa", dir=path.parent)
    os.close(fd)
    try:
        with c2pa.Builder(content) as builder, open(path, "rb") as src, open(tmp, "w+b") as dst:
            builder.sign(sign_with, "video/mp4", src, dst)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except c2pa.C2paError as e:
        raise file_error(path, f"C2PA signing failed ({e})") from None
    finally:
        Path(tmp).unlink(missing_ok=True)


def read(path: str | Path) -> tuple[dict | None, str | None]:
    """The active C2PA manifest of a file and its validation state (``Valid``, ``Trusted``, ``Invalid``), or
    (None, None) when it carries none."""
    c2pa = _c2pa()
    try:
        with c2pa.Reader(str(path)) as reader:
            return reader.get_active_manifest(), reader.get_validation_state()
    except c2pa.C2paError:
        return None, None
