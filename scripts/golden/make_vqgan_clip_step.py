#!/usr/bin/env python3
"""One whole VQGAN+CLIP guidance step, as golden data for the Rust loop.

The step is a PyTorch re-implementation of the loop of Katherine Crowson's
VQGAN+CLIP notebook (and of nerdyrodent's VQGAN-CLIP generate.py after it):
vector_quantize with replace_grad (the straight-through quantiser), decode,
(x + 1) / 2, ClampWithGrad, 'original' cutouts resampled with `resample`
(Lanczos a=2 prefilter + bicubic, align_corners) and clamped with
ClampWithGrad, CLIP's normalisation, get_image_features, the Prompt loss
(spherical distance, sign, |weight|, replace_grad against the stop), Adam
(lr 0.1), and z clamped to the codebook's per-channel range. The functions
below are copied from the notebook's; only the cutout boxes are fixed
instead of drawn, so that Rust can cut the same ones.

Models: the tiny VQGAN of tests/fixtures/vqgan/tiny (VectorQuantizer2) and the
tiny CLIP of tests/fixtures/clip/tiny (transformers.CLIPModel), both as
committed. The VQGAN draws 64×64 pictures here (a 32×32 grid of codes), so
that the cutouts, 32×32 for the tiny CLIP, are shrunk and the prefilter works.

Writes tests/fixtures/vqgan/step/golden.safetensors (f32 unless said):
  z            [1,8,32,32]  the start: random codebook entries + 0.1 N(0,1)
                            (every code wins its arg-min by more than 1e-3)
  input_ids    [2,77] i64   the prompts' tokens: rows 0 and 1 of the tiny
                            CLIP's golden input_ids
  stop         [1]          the second prompt's stop (prompts "0:1" and
                            "1:-0.5:stop"): between two of its cutouts' signed
                            distances, so that some cutouts pass no gradient
  boxes        [5,3] i64    the cutouts' (y, x, side)
  picture      [1,3,64,64]  synth(z)
  cutouts      [5,3,32,32]  the clamped cutouts CLIP sees (before normalising)
  loss         [1]          the sum of both prompts' losses
  grad_picture [1,3,64,64]  d loss / d picture
  grad_z       [1,8,32,32]  d loss / d z
  z_next       [1,8,32,32]  z after one Adam step (lr 0.1) and the clamp
  resample_<h>_<w>_to_<s>   inputs [1,3,h,w] ("..._input") and resample(input,
                            (s, s)) for a few sizes, shrinking and enlarging
  pool_input   [1,3,40,40]  nerdyrodent's 'latest' cutout of the crop
  pool_box     [3] i64      (y, x, side) = (3, 5, 30), pooled to 7×7 (bins overlap):
  pooled       [1,3,7,7]    (adaptive_avg_pool2d + adaptive_max_pool2d) / 2
  pool_weights [1,3,7,7]    W, seeded normal
  grad_pool_input [1,3,40,40]  d sum(W * pooled) / d pool_input

Needs the venv of make_tiny_vqgan.py with transformers added:
    ~/.cache/clip-art/torch-venv/bin/pip install transformers
Run from the repository root:
    ~/.cache/clip-art/torch-venv/bin/python scripts/golden/make_vqgan_clip_step.py
"""

import importlib.metadata as md
import math
import os
import sys

import torch
import yaml
from safetensors.torch import load_file, save_file
from torch.nn import functional as F
from transformers import CLIPModel

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_tiny_vqgan import VQModel  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VQGAN = os.path.join(ROOT, "tests", "fixtures", "vqgan", "tiny")
CLIP = os.path.join(ROOT, "tests", "fixtures", "clip", "tiny")
OUT = os.path.join(ROOT, "tests", "fixtures", "vqgan", "step")

GRID = 32
BOXES = [(0, 0, 64), (5, 11, 48), (20, 3, 40), (7, 30, 33), (30, 31, 32)]
LEARNING_RATE = 0.1
MIN_MARGIN = 1e-3
CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]
CLIP_STD = [0.26862954, 0.26130258, 0.27577711]
RESAMPLE_CASES = [(64, 64, 32), (48, 40, 32), (37, 37, 32), (20, 20, 32), (33, 33, 7)]


# --- From the notebook, unchanged ---------------------------------------------
def sinc(x):
    return torch.where(x != 0, torch.sin(math.pi * x) / (math.pi * x), x.new_ones([]))


def lanczos(x, a):
    cond = torch.logical_and(-a < x, x < a)
    out = torch.where(cond, sinc(x) * sinc(x / a), x.new_zeros([]))
    return out / out.sum()


def ramp(ratio, width):
    n = math.ceil(width / ratio + 1)
    out = torch.empty([n])
    cur = 0
    for i in range(out.shape[0]):
        out[i] = cur
        cur += ratio
    return torch.cat([-out[1:].flip([0]), out])[1:-1]


def resample(input, size, align_corners=True):
    n, c, h, w = input.shape
    dh, dw = size
    input = input.view([n * c, 1, h, w])
    if dh < h:
        kernel_h = lanczos(ramp(dh / h, 2), 2).to(input.device, input.dtype)
        pad_h = (kernel_h.shape[0] - 1) // 2
        input = F.pad(input, (0, 0, pad_h, pad_h), 'reflect')
        input = F.conv2d(input, kernel_h[None, None, :, None])
    if dw < w:
        kernel_w = lanczos(ramp(dw / w, 2), 2).to(input.device, input.dtype)
        pad_w = (kernel_w.shape[0] - 1) // 2
        input = F.pad(input, (pad_w, pad_w, 0, 0), 'reflect')
        input = F.conv2d(input, kernel_w[None, None, None, :])
    input = input.view([n, c, h, w])
    return F.interpolate(input, size, mode='bicubic', align_corners=align_corners)


class ReplaceGrad(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x_forward, x_backward):
        ctx.shape = x_backward.shape
        return x_forward

    @staticmethod
    def backward(ctx, grad_in):
        return None, grad_in.sum_to_size(ctx.shape)


replace_grad = ReplaceGrad.apply


class ClampWithGrad(torch.autograd.Function):
    @staticmethod
    def forward(ctx, input, min, max):
        ctx.min = min
        ctx.max = max
        ctx.save_for_backward(input)
        return input.clamp(min, max)

    @staticmethod
    def backward(ctx, grad_in):
        input, = ctx.saved_tensors
        return grad_in * (grad_in * (input - input.clamp(ctx.min, ctx.max)) >= 0), None, None


clamp_with_grad = ClampWithGrad.apply


def vector_quantize(x, codebook):
    d = x.pow(2).sum(dim=-1, keepdim=True) + codebook.pow(2).sum(dim=1) - 2 * x @ codebook.T
    indices = d.argmin(-1)
    x_q = F.one_hot(indices, codebook.shape[0]).to(d.dtype) @ codebook
    return replace_grad(x_q, x)


class Prompt(torch.nn.Module):
    def __init__(self, embed, weight=1., stop=float('-inf')):
        super().__init__()
        self.register_buffer('embed', embed)
        self.register_buffer('weight', torch.as_tensor(weight))
        self.register_buffer('stop', torch.as_tensor(stop))

    def forward(self, input):
        input_normed = F.normalize(input.unsqueeze(1), dim=2)
        embed_normed = F.normalize(self.embed.unsqueeze(0), dim=2)
        dists = input_normed.sub(embed_normed).norm(dim=2).div(2).arcsin().pow(2).mul(2)
        dists = dists * self.weight.sign()
        return self.weight.abs() * replace_grad(dists, torch.maximum(dists, self.stop)).mean()
# ------------------------------------------------------------------------------


def features_of(output):
    """get_*_features returns the features (transformers 4) or an output whose
    pooler_output holds them (transformers 5)."""
    return output if isinstance(output, torch.Tensor) else output.pooler_output


def load_vqgan():
    with open(os.path.join(VQGAN, "model.yaml")) as f:
        params = yaml.safe_load(f)["model"]["params"]
    model = VQModel(params["ddconfig"], params["n_embed"], params["embed_dim"])
    model.load_state_dict(load_file(os.path.join(VQGAN, "model.safetensors")))
    return model.eval().requires_grad_(False)


def cut(picture, cut_size):
    """MakeCutouts.forward with the boxes fixed."""
    cutouts = [resample(picture[:, :, y:y + side, x:x + side], (cut_size, cut_size))
               for (y, x, side) in BOXES]
    return clamp_with_grad(torch.cat(cutouts, dim=0), 0, 1)


def main():
    vqgan = load_vqgan()
    clip = CLIPModel.from_pretrained(CLIP, attn_implementation="eager").eval().requires_grad_(False)
    codebook = vqgan.quantize.embedding.weight
    mean = torch.tensor(CLIP_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(CLIP_STD).view(1, 3, 1, 1)
    cut_size = clip.config.vision_config.image_size

    gen = torch.Generator().manual_seed(0)
    codes = torch.randint(codebook.shape[0], (GRID * GRID,), generator=gen)
    noise = 0.1 * torch.randn(GRID * GRID, codebook.shape[1], generator=gen)
    start = (codebook[codes] + noise).view(1, GRID, GRID, -1).movedim(3, 1).contiguous()
    d = (start.movedim(1, 3).reshape(-1, codebook.shape[1])[:, None] - codebook[None]).pow(2).sum(-1)
    best = d.topk(2, largest=False).values
    margin = (best[:, 1] - best[:, 0]).min().item()
    assert margin > MIN_MARGIN, margin

    input_ids = load_file(os.path.join(CLIP, "golden.safetensors"))["input_ids"][:2]
    texts = features_of(clip.get_text_features(input_ids=input_ids))

    z = start.clone().requires_grad_(True)
    z_min = codebook.min(dim=0).values[None, :, None, None]
    z_max = codebook.max(dim=0).values[None, :, None, None]

    def synth(z):
        z_q = vector_quantize(z.movedim(1, 3), codebook).movedim(3, 1)
        return clamp_with_grad(vqgan.decode(z_q).add(1).div(2), 0, 1)

    picture = synth(z)
    picture.retain_grad()
    cutouts = cut(picture, cut_size)
    features = features_of(clip.get_image_features(pixel_values=(cutouts - mean) / std)).float()

    # The second prompt pushes away (weight -0.5); its stop falls in the
    # widest gap between its cutouts' signed distances, so some are switched off.
    with torch.no_grad():
        first = F.normalize(features, dim=1)
        second = F.normalize(texts[1:2], dim=1)
        signed = -((first - second).norm(dim=1).div(2).arcsin().pow(2).mul(2))
        ordered = signed.sort().values
        gaps = ordered[1:] - ordered[:-1]
        k = gaps.argmax().item()
        stop = ((ordered[k] + ordered[k + 1]) / 2).item()
        assert gaps[k].item() > MIN_MARGIN, gaps
    prompts = [Prompt(texts[0:1], 1.0), Prompt(texts[1:2], -0.5, stop)]
    loss = sum(prompt(features) for prompt in prompts)

    optimiser = torch.optim.Adam([z], lr=LEARNING_RATE)
    optimiser.zero_grad()
    loss.backward()
    grad_z = z.grad.detach().clone()
    optimiser.step()
    with torch.no_grad():
        z.copy_(z.maximum(z_min).minimum(z_max))

    golden = {
        "z": start,
        "input_ids": input_ids.to(torch.int64),
        "stop": torch.tensor([stop]),
        "boxes": torch.tensor(BOXES, dtype=torch.int64),
        "picture": picture.detach(),
        "cutouts": cutouts.detach(),
        "loss": loss.detach().reshape(1),
        "grad_z": grad_z,
        "grad_picture": picture.grad,
        "z_next": z.detach(),
    }
    gen = torch.Generator().manual_seed(1)
    for (h, w, s) in RESAMPLE_CASES:
        name = f"resample_{h}_{w}_to_{s}"
        picture_in = torch.rand(1, 3, h, w, generator=gen)
        golden[name + "_input"] = picture_in
        golden[name] = resample(picture_in, (s, s))
    pool_input = torch.rand(1, 3, 40, 40, generator=gen).requires_grad_(True)
    crop = pool_input[:, :, 3:33, 5:35]
    pooled = (F.adaptive_avg_pool2d(crop, 7) + F.adaptive_max_pool2d(crop, 7)) / 2
    pool_weights = torch.randn(1, 3, 7, 7, generator=gen)
    (pooled * pool_weights).sum().backward()
    golden.update({
        "pool_input": pool_input.detach(),
        "pool_box": torch.tensor([3, 5, 30], dtype=torch.int64),
        "pooled": pooled.detach(),
        "pool_weights": pool_weights,
        "grad_pool_input": pool_input.grad,
    })
    golden = {k: (v if v.dtype == torch.int64 else v.to(torch.float32)).contiguous()
              for k, v in golden.items()}
    meta = {"source": "transformers=={} torch=={}".format(
        md.version("transformers"), torch.__version__)}
    os.makedirs(OUT, exist_ok=True)
    path = os.path.join(OUT, "golden.safetensors")
    save_file(golden, path, metadata=meta)
    gated = (signed < stop).sum().item()
    print(f"loss {loss.item():.6f}, |grad z| max {grad_z.abs().max():.3e}, "
          f"stop {stop:.5f} switches off {gated} of {len(BOXES)} cutouts, code margin {margin:.3g}")
    print(f"wrote {path} ({os.path.getsize(path)} bytes)")


if __name__ == "__main__":
    main()
