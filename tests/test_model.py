"""The network: shapes, causality, chunked inference, and a training run small enough for CI."""

import numpy as np
import torch

from visemes.engines import load_network
from visemes.inventory import CLASSES
from visemes.model import CausalStream, ModelConfig, PhoneNet, class_posteriors, count_parameters
from visemes.train import train


def test_a_few_hundred_thousand_parameters_per_network():
    assert 50_000 < count_parameters(PhoneNet()) < 3_000_000


def test_causal_network_never_looks_past_its_lookahead():
    torch.manual_seed(0)
    net = PhoneNet(ModelConfig(), causal=True).eval()
    x = torch.randn(1, 200, 64)
    y = x.clone()
    y[:, 120:] += 5.0  # change the future from frame 120 on
    with torch.no_grad():
        a, b = net(x), net(y)
    # output index t belongs to frame t - lookahead and sees inputs up to t
    assert torch.allclose(a[:, :120], b[:, :120])
    assert not torch.allclose(a[:, 120:], b[:, 120:])


def test_offline_network_looks_both_ways_within_its_context():
    torch.manual_seed(0)
    net = PhoneNet(ModelConfig(), causal=False).eval()
    x = torch.randn(1, 400, 64)
    y = x.clone()
    y[:, 300:] += 5.0
    with torch.no_grad():
        a, b = net(x), net(y)
    half = net.context // 2
    assert torch.allclose(a[:, :300 - half - 1], b[:, :300 - half - 1])
    assert not torch.allclose(a[:, 300 - half:300], b[:, 300 - half:300])


def test_chunked_inference_equals_one_pass():
    torch.manual_seed(0)
    feats = np.random.default_rng(0).standard_normal((3000, 64)).astype(np.float32)
    for causal in (False, True):
        net = PhoneNet(ModelConfig(), causal=causal)
        whole = class_posteriors(net, feats, chunk=10_000)
        parts = class_posteriors(net, feats, chunk=700)
        assert whole.shape == (3000, len(CLASSES))
        assert np.allclose(whole, parts, atol=1e-5)


def test_training_smoke_run_writes_loadable_weights(tmp_path):
    out = tmp_path / "tiny.pt"
    train(hours=0.01, epochs=1, steps_per_epoch=2, batch=4, crop=100, work=tmp_path / "work", out=out,
          eval_dir=None, workers=1, real_share=0.0, config=ModelConfig(channels=16, dilations=(1, 2)),
          log=lambda *_: None)
    net = load_network.__wrapped__("causal", out)
    probs = class_posteriors(net, np.zeros((50, 64), np.float32))
    assert probs.shape == (50, len(CLASSES)) and np.allclose(probs.sum(axis=1), 1, atol=1e-4)


def test_shipped_weights_load_in_both_modes():
    for mode in ("offline", "causal"):
        net = load_network(mode)
        assert net.causal == (mode == "causal")


def test_the_live_stream_gives_the_same_posteriors_as_a_whole_file():
    torch.manual_seed(1)
    net = PhoneNet(ModelConfig(), causal=True).eval()
    feats = np.random.default_rng(2).standard_normal((400, 64)).astype(np.float32)
    stream, parts, i = CausalStream(net), [], 0
    for size in [1, 3, 1, 7, 2] * 100:
        if i >= len(feats):
            break
        parts.append(stream.push(feats[i:i + size]))
        i += size
    parts.append(stream.flush())
    assert np.allclose(np.concatenate(parts), class_posteriors(net, feats), atol=1e-5)
