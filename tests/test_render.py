"""The neural renderer path, small on the CPU: a synthetic talking face (the sample head rendered with its own
curves) is prepared, a tiny renderer trains on it, beats retrieval, follows the curves, and everything it
writes says it is AI output. Consent is never optional."""

from __future__ import annotations

import json
import subprocess
import sys

import cv2
import numpy as np
import pytest
import soundfile as sf
import torch
from conftest import SAMPLES

from visemes.audio import load_audio
from visemes.errors import VisemesError
from visemes.render import faces, pipeline, video

CONSENT = json.dumps({"person": "the sample head", "use": "re-animated for the visemes test suite",
                      "date": "2026-12-06"})


def test_the_render_extra_is_installed():
    assert hasattr(cv2, "CascadeClassifier") and cv2.__version__.split(".")[0] == "4"


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "visemes", "render", *args], capture_output=True, text=True,
                          timeout=600)


@pytest.fixture(scope="module")
def footage(tmp_path_factory):
    """~14 s of the sample head saying the three sample lines, 25 fps, with the speech: reference footage."""
    from visemes.bake import Settings, bake_file
    from visemes.preview import Renderer, scene

    d = tmp_path_factory.mktemp("footage")
    speech = np.concatenate([load_audio(SAMPLES / f"{n}.wav") for n in ("hello", "hola", "guten-tag")])
    sf.write(d / "speech.wav", speech, 16000)
    sc = scene(bake_file(d / "speech.wav", [], Settings()), None, 25)
    r = Renderer(sc, size=128, views=("front",))
    try:
        video.write_mp4(d / "ref.mp4", (r.frame(i) for i in range(len(sc.weights[0]))), 25, d / "speech.wav", {})
    finally:
        r.release()
    return d


@pytest.fixture(scope="module")
def trained(footage):
    prep, model = footage / "ref.prep", footage / "face.pt"
    r = cli("prepare", "--video", str(footage / "ref.mp4"), "--consent", CONSENT, "--size", "48", "-o", str(prep))
    assert r.returncode == 0, r.stderr
    torch.set_num_threads(2)
    # bounded by steps, never by the clock: a busy machine takes longer and trains the same network
    pipeline.train(prep, model, pipeline.RendererConfig(size=48, base=8), steps=900, batch=16)
    return prep, model


def test_a_tiny_renderer_beats_retrieval_and_follows_the_curves(trained):
    prep, model = trained
    r = cli("eval", "--data", str(prep), "--model", str(model))
    assert r.returncode == 0, r.stderr
    m = json.loads(r.stdout)
    assert m["renderer"]["psnr_mouth"] > m["retrieval"]["psnr_mouth"] + 2, m
    assert m["renderer"]["ssim_mouth"] > m["retrieval"]["ssim_mouth"], m
    assert m["renderer"]["sync_r"] >= 0.7 and abs(m["renderer"]["sync_lag_frames"]) <= 1, m  # 2 s held out


def test_new_speech_drives_the_mouth(trained, footage, tmp_path):
    done = pipeline.run(trained[1], SAMPLES / "guten-tag.wav", tmp_path / "de.mp4", footage / "ref.mp4")
    assert done["sync"]["r"] >= 0.8 and abs(done["sync"]["lag_frames"]) <= 1, done["sync"]


def test_the_checkpoint_records_the_consent_and_the_reference(trained, footage):
    from visemes.render.consent import sha256_file

    ckpt = torch.load(trained[1], weights_only=True)
    assert ckpt["consent"]["person"] == "the sample head" and ckpt["consent"]["use"].startswith("re-animated")
    assert ckpt["reference_sha256"] == sha256_file(footage / "ref.mp4")


def test_run_writes_a_labelled_tagged_video_with_the_new_speech(trained, footage, tmp_path):
    _, model = trained
    out = tmp_path / "out.mp4"
    r = cli("run", "--model", str(model), "--audio", str(SAMPLES / "hola.wav"), "--video", str(footage / "ref.mp4"),
            "-o", str(out))
    assert r.returncode == 0, r.stderr
    info = video.probe(out)
    assert info["audio"] and abs(info["frames"] - sf.info(SAMPLES / "hola.wav").duration * 25) <= 3
    tags = video.read_tags(out)
    assert tags["ai_generated"] == "true" and "AI-generated" in tags["comment"]
    assert tags["consent_sha256"] == torch.load(model, weights_only=True)["consent"]["sha256"]
    first = next(video.frames(out))
    corner = first[-30:, :70].astype(float)  # the badge, bottom left: dark with white letters
    assert corner.max() > 200 and np.mean(corner < 60) > 0.3
    plain = tmp_path / "plain.mp4"
    assert cli("run", "--model", str(model), "--audio", str(SAMPLES / "hola.wav"), "--video",
               str(footage / "ref.mp4"), "--no-label", "-o", str(plain)).returncode == 0
    assert "off" in video.read_tags(plain)["label"]
    assert np.abs(next(video.frames(plain))[-30:, :70].astype(float) - corner).mean() > 20


def test_crop_and_paste_round_trip(footage):
    frame = next(video.frames(footage / "ref.mp4"))
    box = faces.mouth_box(faces.detect(frame)[0])
    back = faces.paste(frame, faces.crop(frame, box, 64), box)
    assert np.abs(back.astype(float) - frame).mean() < 1.5


def test_several_faces_take_the_largest_unless_told(footage):
    frame = next(video.frames(footage / "ref.mp4"))
    small = cv2.resize(frame, (96, 96))
    wide = np.zeros((128, 240, 3), np.uint8)
    wide[:, :128], wide[16:112, 136:232] = frame, small
    big, other = faces.track([wide], face=0)[0], faces.track([wide], face=1)[0]
    assert big.cx < 128 < other.cx and big.size > other.size
    with pytest.raises(VisemesError, match="only 2 face"):
        faces.track([wide], face=2, name="two.mp4")


def test_consent_is_required_and_checked(trained, footage, tmp_path):
    prep, model = trained
    r = cli("prepare", "--video", str(footage / "ref.mp4"), "-o", str(tmp_path / "p"))
    assert r.returncode == 1 and "consent" in r.stderr and not (tmp_path / "p").exists()
    meta = json.loads((prep / "reference.json").read_text())
    stripped = tmp_path / "stripped"
    stripped.mkdir()
    (stripped / "reference.npz").write_bytes((prep / "reference.npz").read_bytes())
    (stripped / "reference.json").write_text(json.dumps({**meta, "consent": None}))
    r = cli("train", "--data", str(stripped), "-o", str(tmp_path / "x.pt"))
    assert r.returncode == 1 and "no consent record" in r.stderr and not (tmp_path / "x.pt").exists()
    ckpt = torch.load(model, weights_only=True)
    ckpt["consent"] = {**ckpt["consent"], "person": "someone else"}  # the hash no longer fits
    torch.save(ckpt, tmp_path / "forged.pt")
    r = cli("run", "--model", str(tmp_path / "forged.pt"), "--audio", str(SAMPLES / "hola.wav"), "--video",
            str(footage / "ref.mp4"), "-o", str(tmp_path / "o.mp4"))
    assert r.returncode == 1 and "does not match" in r.stderr and not (tmp_path / "o.mp4").exists()


def test_bad_inputs_give_one_line_errors_and_no_output(footage, tmp_path):
    blank = tmp_path / "blank.mp4"
    video.write_mp4(blank, (np.full((96, 96, 3), 40, np.uint8) for _ in range(20)), 25, SAMPLES / "hola.wav", {})
    mute = tmp_path / "mute.mp4"
    video.write_mp4(mute, video.frames(footage / "ref.mp4"), 25, None, {})
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video at all")
    cases = [
        (["prepare", "--video", str(blank), "--consent", CONSENT, "-o", str(tmp_path / "a")], "no face found"),
        (["prepare", "--video", str(mute), "--consent", CONSENT, "-o", str(tmp_path / "b")], "no audio track"),
        (["prepare", "--video", str(junk), "--consent", CONSENT, "-o", str(tmp_path / "c")], "cannot read video"),
        (["run", "--model", str(junk), "--audio", str(SAMPLES / "hola.wav"), "--image", str(junk), "-o",
          str(tmp_path / "d.mp4")], "not a renderer checkpoint"),
    ]
    for args, problem in cases:
        r = cli(*args)
        assert r.returncode == 1 and problem in r.stderr, (args, r.stderr)
        assert len(r.stderr.strip().splitlines()) == 1
    assert not any((tmp_path / n).exists() for n in ("a", "b", "c", "d.mp4"))


def test_a_still_image_is_animated_too(trained, footage, tmp_path):
    still = tmp_path / "face.png"
    cv2.imwrite(str(still), next(video.frames(footage / "ref.mp4"))[:, :, ::-1])
    done = pipeline.run(trained[1], SAMPLES / "hola.wav", tmp_path / "still.mp4", image=still)
    info = video.probe(tmp_path / "still.mp4")
    assert info["audio"] and info["size"] == (128, 128) and done["sync"]["r"] >= 0.8


def signing_chain(folder) -> tuple[str, str]:
    """A test certificate authority and a P-256 signing certificate under it (PEM chain, PEM key)."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn),
                          x509.NameAttribute(NameOID.ORGANIZATION_NAME, "visemes tests")])

    now = datetime.datetime.now(datetime.timezone.utc)

    def cert(subject, issuer, key, sign_key, ca: bool):
        b = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(key.public_key())
             .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
             .not_valid_after(now + datetime.timedelta(days=7))
             .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
             .add_extension(x509.KeyUsage(not ca, False, False, False, False, ca, ca, False, False), critical=True))
        if not ca:
            b = (b.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
                 .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(sign_key.public_key()),
                                critical=False))
        return b.sign(sign_key, hashes.SHA256())

    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = cert(name("Test CA"), name("Test CA"), ca_key, ca_key, True)
    leaf = cert(name("Test signer"), ca.subject, key, ca_key, False)
    chain, pem = folder / "chain.pem", folder / "key.pem"
    chain.write_bytes(leaf.public_bytes(serialization.Encoding.PEM) + ca.public_bytes(serialization.Encoding.PEM))
    pem.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
    return str(chain), str(pem)


def test_a_signed_c2pa_manifest_says_the_video_was_made_by_a_trained_model(trained, footage, tmp_path):
    from visemes.render import provenance

    _, model = trained
    chain, key = signing_chain(tmp_path)
    out = tmp_path / "signed.mp4"
    r = cli("run", "--model", str(model), "--audio", str(SAMPLES / "hola.wav"), "--video", str(footage / "ref.mp4"),
            "--c2pa", chain, key, "-o", str(out))
    assert r.returncode == 0, r.stderr
    manifest, state = provenance.read(out)
    assert state == "Valid"  # signature and content hash check out (our test CA is, rightly, not trusted)
    assertions = {a["label"]: a["data"] for a in manifest["assertions"]}
    action = next(a for a in assertions["c2pa.actions.v2"]["actions"] if a["action"] == "c2pa.created")
    assert action["digitalSourceType"].endswith("/compositeWithTrainedAlgorithmicMedia")
    ckpt = torch.load(model, weights_only=True)
    assert assertions[provenance.ASSERTION]["consent_sha256"] == ckpt["consent"]["sha256"]
    assert assertions[provenance.ASSERTION]["reference_sha256"] == ckpt["reference_sha256"]
    assert video.read_tags(out)["ai_generated"] == "true"  # the container tags survive the signing
    assert video.probe(out)["audio"]
    with open(out, "r+b") as f:  # any change to the video breaks the manifest
        f.seek(-2000, 2)
        f.write(b"\0" * 16)
    assert provenance.read(out)[1] == "Invalid"
    unsigned = tmp_path / "unsigned.mp4"
    video.write_mp4(unsigned, video.frames(footage / "ref.mp4"), 25, None, {})
    assert provenance.read(unsigned) == (None, None)


def test_a_bad_c2pa_key_fails_before_any_work(trained, footage, tmp_path):
    _, model = trained
    chain, _ = signing_chain(tmp_path)
    for args, problem in [((chain, chain), "not an unencrypted PEM private key"),
                          ((str(tmp_path / "missing.pem"), chain), "cannot read")]:
        r = cli("run", "--model", str(model), "--audio", str(SAMPLES / "hola.wav"), "--video",
                str(footage / "ref.mp4"), "--c2pa", *args, "-o", str(tmp_path / "o.mp4"))
        assert r.returncode == 1 and problem in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
        assert not list(tmp_path.glob("*.mp4")) and not list(tmp_path.glob(".o.mp4*"))


@pytest.mark.parametrize("consent, message", [
    ("I agree to everything, signed me", "names the person"),
    ('{"person": "Ada"}', "'use' must name what to"),
    ('{"use": "anything"}', "'person' must name who agreed"),
    ('{"person": "Ada", "use": "demo", "mood": "happy"}', "unknown field 'mood'"),
])
def test_consent_must_name_the_person_and_the_use(footage, tmp_path, consent, message):
    r = cli("prepare", "--video", str(footage / "ref.mp4"), "--consent", consent, "-o", str(tmp_path / "p"))
    assert r.returncode == 1 and message in r.stderr and not (tmp_path / "p").exists(), r.stderr


def test_verify_finds_the_watermark_after_reencoding_and_stripping_metadata(trained, footage, tmp_path):
    from visemes.preview import ffmpeg

    out = tmp_path / "out.mp4"
    r = cli("run", "--model", str(trained[1]), "--audio", str(SAMPLES / "hello.wav"), "--video",
            str(footage / "ref.mp4"), "--no-label", "-o", str(out))
    assert r.returncode == 0, r.stderr
    report = json.loads(cli("verify", str(out)).stdout)
    assert report["ai_generated"] and report["tags"]["ai_generated"] == "true" and report["watermark"]["found"]
    kbps = out.stat().st_size * 8 / video.probe(out)["frames"] * 25 / 1000
    stripped = tmp_path / "stripped.mp4"
    subprocess.run([ffmpeg(), "-y", "-loglevel", "error", "-i", str(out), "-map_metadata", "-1", "-c:v", "libx264",
                    "-b:v", f"{max(20, int(kbps / 4))}k", "-c:a", "copy", str(stripped)], check=True)
    r = cli("verify", str(stripped))
    report = json.loads(r.stdout)
    assert report["tags"] is None, "the metadata is gone"
    assert report["watermark"]["found"] and report["ai_generated"], report
    assert "AI-generated (watermark)" in r.stderr
    plain = json.loads(cli("verify", str(footage / "ref.mp4")).stdout)
    assert not plain["ai_generated"] and abs(plain["watermark"]["z"]) < 3
