#!/usr/bin/env python3
"""Two tiny random taming VQGANs and their outputs, as golden data for the Rust VQGAN.

Built from the reference modules of taming-transformers (PyPI
taming-transformers-rom1504, whose taming/modules/diffusionmodules/model.py and
taming/modules/vqvae/quantize.py are upstream's): Encoder, Decoder,
VectorQuantizer2, GumbelQuantize. taming.models.vqgan is NOT imported (it
imports taming.main, broken on current pytorch-lightning); the wrappers below
copy VQModel's / GumbelVQ's constructors, attribute names and encode/decode, so
their state_dict keys are those of a real checkpoint's "state_dict" less loss.*.

Writes tests/fixtures/vqgan/<name>/ for name in (tiny, tiny-gumbel):
  model.safetensors   the wrapper's state_dict, taming names, contiguous f32
  model.yaml          the config, written like taming's published model.yaml
  golden.safetensors  inputs and outputs (f32 unless said otherwise):
    both models:
      image           [2,3,32,32]  seeded uniform in [-1,1)
      z               [2,8,16,16]  encoder(image)  (before quant_conv)
      h               [2,8,16,16]  quant_conv(z)
      indices         [2,16,16]    i64, chosen code per latent position (b,h,w)
      z_q             [2,8,16,16]  quantised latent
      decoded         [2,3,32,32]  decode(z_q) = decoder(post_quant_conv(z_q))
      z_random        [2,8,16,16]  seeded N(0,1), not quantised
      decoded_random  [2,3,32,32]  decode(z_random)
      encoder_conv_in [1,32,32,32] \
      encoder_down0   [1,32,16,16]  | intermediates of image[0:1] only (batch
      encoder_down1   [1,64,16,16]  | item 0, to keep the files small):
      encoder_mid     [1,64,16,16]  | down0 = after encoder.down.0.downsample,
      decoder_mid     [1,64,16,16]  | down1 = after the last block (+attn) of
      decoder_up0     [1,32,32,32] /  encoder.down.1; decoder_* from decode(z_q)
                                      (decoder_up0 = before decoder.norm_out)
    tiny (VectorQuantizer2, as VQModel builds it: beta 0.25, legacy True):
      z_q             exactly what quantize(h)[0] returns in eval:
                      z + (e - z).detach(), i.e. e up to f32 rounding
      emb_loss        [1]  quantize(h)[1] = mean((e-z)^2) + 0.25*mean((e-z)^2)
      indices         quantize(h)[2][2] (flat, b-h-w order) reshaped to [2,16,16]
    tiny-gumbel (GumbelQuantize, as GumbelVQ builds it):
      logits          [2,64,16,16] quantize.proj(h)
      indices         argmax over dim 1 of logits (NO gumbel noise)
      z_q             one_hot(indices) @ quantize.embed.weight, computed here:
                      GumbelQuantize.forward adds random gumbel noise before its
                      hard arg-max, so its z_q is not reproducible; this is the
                      noise-free path (asserted equal to forward() with the noise
                      patched to zero)
      kl_loss         [1]  quantize(h)[1] (noise-free: softmax of logits only)

Every parameter is perturbed (GroupNorm weights 1 + 0.1 N(0,1), every bias
0.1 N(0,1), codebooks uniform(-1,1)), so no affine part is trivially 1 or 0;
quant_conv.weight is scaled by 3 (latents on the codebook's scale) and the
gumbel quantize.proj.weight by 5 (logits of std ~2). The script asserts that
every arg-min/arg-max wins by more than 1e-3 (DATA_SEED was picked for that),
so a port with different rounding picks the same codes.

Needs a venv outside the repo with CPU torch, numpy, einops, safetensors,
pyyaml and taming-transformers-rom1504 (installed with --no-deps):
    python3 -m venv ~/.cache/clip-art/torch-venv
    ~/.cache/clip-art/torch-venv/bin/pip install torch numpy einops safetensors pyyaml
    ~/.cache/clip-art/torch-venv/bin/pip install --no-deps taming-transformers-rom1504
Run from the repository root:
    ~/.cache/clip-art/torch-venv/bin/python scripts/golden/make_tiny_vqgan.py
"""

import contextlib
import importlib.metadata as md
import os

import torch
import torch.nn.functional as F
import yaml
from safetensors.torch import save_file

from taming.modules.diffusionmodules.model import Decoder, Encoder
from taming.modules.vqvae import quantize as taming_quantize
from taming.modules.vqvae.quantize import GumbelQuantize, VectorQuantizer2

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "fixtures", "vqgan")

EMBED_DIM = 8
N_EMBED = 64
KL_WEIGHT = 1.0e-08  # GumbelVQ's default and the published gumbel_f8 value
MIN_MARGIN = 1e-3    # smallest allowed gap between best and second-best code
# Seed of image and z_random: the first from 2 up for which every code of both
# models wins by more than MIN_MARGIN (near-ties are common among 512 positions).
DATA_SEED = 10


def ddconfig(attn_resolutions):
    # Key order as in taming's configs/*.yaml.
    return dict(
        double_z=False, z_channels=8, resolution=32, in_channels=3, out_ch=3, ch=32,
        ch_mult=[1, 2], num_res_blocks=1, attn_resolutions=list(attn_resolutions), dropout=0.0,
    )


class VQModel(torch.nn.Module):
    """taming.models.vqgan.VQModel without Lightning, loss (DummyLoss has no
    parameters) or checkpoint loading; same attributes, same order."""

    def __init__(self, ddconfig, n_embed, embed_dim):
        super().__init__()
        self.encoder = Encoder(**ddconfig)
        self.decoder = Decoder(**ddconfig)
        self.quantize = VectorQuantizer2(n_embed, embed_dim, beta=0.25, remap=None,
                                         sane_index_shape=False)
        self.quant_conv = torch.nn.Conv2d(ddconfig["z_channels"], embed_dim, 1)
        self.post_quant_conv = torch.nn.Conv2d(embed_dim, ddconfig["z_channels"], 1)

    def encode(self, x):
        h = self.encoder(x)
        h = self.quant_conv(h)
        quant, emb_loss, info = self.quantize(h)
        return quant, emb_loss, info

    def decode(self, quant):
        quant = self.post_quant_conv(quant)
        dec = self.decoder(quant)
        return dec


class GumbelVQ(VQModel):
    """taming.models.vqgan.GumbelVQ: VQModel, then quantize replaced by a
    GumbelQuantize whose proj maps z_channels -> n_embed (so it reads
    quant_conv's output only when embed_dim == z_channels, as in gumbel_f8)."""

    def __init__(self, ddconfig, n_embed, embed_dim, kl_weight=KL_WEIGHT):
        super().__init__(ddconfig, n_embed, embed_dim)
        z_channels = ddconfig["z_channels"]
        self.quantize = GumbelQuantize(z_channels, embed_dim, n_embed=n_embed,
                                       kl_weight=kl_weight, temp_init=1.0, remap=None)


def model_yaml(target, config, gumbel):
    params = {}
    if gumbel:
        params["kl_weight"] = KL_WEIGHT
    params["embed_dim"] = EMBED_DIM
    params["n_embed"] = N_EMBED
    params["monitor"] = "val/rec_loss"
    if gumbel:
        params["temperature_scheduler_config"] = {
            "target": "taming.lr_scheduler.LambdaWarmUpCosineScheduler",
            "params": {"warm_up_steps": 0, "max_decay_steps": 1000001, "lr_start": 0.9,
                       "lr_max": 0.9, "lr_min": 1.0e-06},
        }
    params["ddconfig"] = config
    params["lossconfig"] = {"target": "taming.modules.losses.vqperceptual.DummyLoss"}
    doc = {"model": {"base_learning_rate": 4.5e-06, "target": target, "params": params}}
    return yaml.safe_dump(doc, sort_keys=False, default_flow_style=False)


def perturb(model, gen):
    with torch.no_grad():
        for mod in model.modules():
            if isinstance(mod, torch.nn.GroupNorm):
                mod.weight.copy_(1.0 + 0.1 * torch.randn(mod.weight.shape, generator=gen))
            if isinstance(mod, torch.nn.Embedding):
                mod.weight.copy_(torch.rand(mod.weight.shape, generator=gen) * 2.0 - 1.0)
        for name, p in model.named_parameters():
            if name.endswith(".bias"):
                p.copy_(0.1 * torch.randn(p.shape, generator=gen))
        # Latents on the codebook's scale (std ~0.6), and gumbel logits of std ~1,
        # so that codes are spread out and each winner is clear.
        model.quant_conv.weight.mul_(3.0)
        if isinstance(model.quantize, GumbelQuantize):
            model.quantize.proj.weight.mul_(5.0)
        for name, p in model.named_parameters():
            assert (p != 0).all() and (p != 1).all(), name


def margin(scores, largest):
    """Gap between the best and second-best entry along dim 1."""
    top = torch.topk(scores, 2, dim=1, largest=largest).values
    return (top[:, 0] - top[:, 1]).abs().min().item()


@contextlib.contextmanager
def capture(model, image0_only=True):
    """Forward hooks on the modules whose outputs are stored as intermediates."""
    enc, dec = model.encoder, model.decoder
    last = lambda level: level.attn[-1] if len(level.attn) > 0 else level.block[-1]
    points = {
        "encoder_conv_in": enc.conv_in,
        "encoder_down0": enc.down[0].downsample,
        "encoder_down1": last(enc.down[1]),
        "encoder_mid": enc.mid.block_2,
        "decoder_mid": dec.mid.block_2,
        "decoder_up0": last(dec.up[0]),
    }
    seen = {}

    def hook(name):
        def f(_mod, _inp, out):
            seen[name] = out[:1].detach().clone() if image0_only else out.detach().clone()
        return f

    handles = [m.register_forward_hook(hook(n)) for n, m in points.items()]
    try:
        yield seen
    finally:
        for h in handles:
            h.remove()


@contextlib.contextmanager
def noise_free_gumbel():
    """F.gumbel_softmax(hard=True) with the gumbel noise set to zero."""
    real = taming_quantize.F.gumbel_softmax

    def fake(logits, tau=1.0, hard=False, dim=-1):
        y = (logits / tau).softmax(dim)
        if hard:
            idx = y.argmax(dim, keepdim=True)
            y_hard = torch.zeros_like(logits).scatter_(dim, idx, 1.0)
            return y_hard - y.detach() + y
        return y

    taming_quantize.F.gumbel_softmax = fake
    try:
        yield
    finally:
        taming_quantize.F.gumbel_softmax = real


def build(name):
    gumbel = name == "tiny-gumbel"
    config = ddconfig([32] if gumbel else [16])
    torch.manual_seed(0)
    cls = GumbelVQ if gumbel else VQModel
    model = cls(config, N_EMBED, EMBED_DIM).eval()
    perturb(model, torch.Generator().manual_seed(1))

    data_gen = torch.Generator().manual_seed(DATA_SEED)
    image = torch.rand(2, 3, 32, 32, generator=data_gen) * 2.0 - 1.0
    z_random = torch.randn(2, EMBED_DIM, 16, 16, generator=data_gen)

    out = {"image": image}
    with torch.no_grad(), capture(model) as seen:
        z = model.encoder(image)
        h = model.quant_conv(z)
        out["z"], out["h"] = z, h
        flat = h.permute(0, 2, 3, 1).reshape(-1, EMBED_DIM)
        if not gumbel:
            quant, emb_loss, info = model.quantize(h)
            indices = info[2].reshape(2, 16, 16)
            e = model.quantize.embedding.weight
            # Same codes as the explicit distance, by a clear margin.
            d = (flat ** 2).sum(1, keepdim=True) + (e ** 2).sum(1) - 2 * flat @ e.T
            assert torch.equal(d.argmin(1), info[2])
            code_margin = margin(d, largest=False)
            assert torch.allclose(quant, e[indices].permute(0, 3, 1, 2), atol=1e-6)
            assert torch.allclose(emb_loss, 1.25 * ((e[info[2]] - flat) ** 2).mean())
            out["emb_loss"] = emb_loss.reshape(1)
        else:
            q = model.quantize
            logits = q.proj(h)
            indices = logits.argmax(1)
            one_hot = F.one_hot(indices, N_EMBED).permute(0, 3, 1, 2).float()
            quant = torch.einsum("b n h w, n d -> b d h w", one_hot, q.embed.weight)
            assert torch.equal(quant, q.embed.weight[indices].permute(0, 3, 1, 2))
            with noise_free_gumbel():
                ref_q, kl_loss, info = q(h)
            assert torch.equal(info[2], indices)
            assert torch.allclose(ref_q, quant, atol=1e-6)
            code_margin = margin(logits, largest=True)
            out["logits"] = logits
            out["kl_loss"] = kl_loss.reshape(1)
        out["indices"] = indices.to(torch.int64)
        out["z_q"] = quant
        out["decoded"] = model.decode(quant)
        intermediates = dict(seen)
        out["z_random"] = z_random
    with torch.no_grad():
        out["decoded_random"] = model.decode(z_random)
    with torch.no_grad():  # batch 1 vs 2 may round differently: close, not equal
        assert torch.allclose(intermediates["encoder_conv_in"], model.encoder.conv_in(image[:1]),
                              atol=1e-6)
    out.update(intermediates)
    assert code_margin > MIN_MARGIN, (name, code_margin)
    return model, config, out, code_margin


def main():
    meta = {"source": "taming-transformers-rom1504=={} torch=={}".format(
        md.version("taming-transformers-rom1504"), torch.__version__)}
    for name in ("tiny", "tiny-gumbel"):
        model, config, out, code_margin = build(name)
        folder = os.path.join(OUT, name)
        os.makedirs(folder, exist_ok=True)
        state = {k: v.detach().to(torch.float32).contiguous() for k, v in model.state_dict().items()}
        save_file(state, os.path.join(folder, "model.safetensors"), metadata=meta)
        target = "taming.models.vqgan." + ("GumbelVQ" if name == "tiny-gumbel" else "VQModel")
        with open(os.path.join(folder, "model.yaml"), "w") as f:
            f.write(model_yaml(target, config, name == "tiny-gumbel"))
        golden = {k: (v if v.dtype == torch.int64 else v.to(torch.float32)).contiguous()
                  for k, v in out.items()}
        save_file(golden, os.path.join(folder, "golden.safetensors"), metadata=meta)

        n_params = sum(v.numel() for v in state.values())
        print(f"== {name}: {len(state)} tensors, {n_params} parameters")
        for k, v in state.items():
            if k.startswith(("quantize", "quant_conv", "post_quant_conv")):
                print(f"  {k} {list(v.shape)}")
        print(f"  golden: {len(golden)} tensors")
        for k, v in golden.items():
            print(f"    {k} {list(v.shape)} {str(v.dtype).replace('torch.', '')}")
        print(f"  distinct codes: {out['indices'].unique().numel()} of {N_EMBED}, "
              f"smallest winning margin {code_margin:.4g}")
        print(f"  decoded range [{out['decoded'].min():.3f}, {out['decoded'].max():.3f}]")
        total = 0
        for f in ("model.safetensors", "model.yaml", "golden.safetensors"):
            size = os.path.getsize(os.path.join(folder, f))
            total += size
            print(f"  {f} {size} bytes")
        print(f"  folder {total} bytes")


if __name__ == "__main__":
    main()
