#!/usr/bin/env python3
"""PyTorch side of `cargo bench --bench vqgan_clip_step`: the same VQGAN+CLIP
step, as the notebook takes it (vector_quantize with replace_grad, decode,
ClampWithGrad, 'original' cutouts with the Lanczos + bicubic resample, CLIP's
normalisation, the spherical-distance prompt loss, Adam, the clamp of z), on
the reference modules: taming's Encoder/Decoder/VectorQuantizer2 with
vqgan_imagenet_f16_16384's sizes and transformers' CLIPModel with ViT-B/32's,
random frozen weights, f32, CPU.

Arguments: THREADS SIDE CUTOUTS STEPS [DEVICE]. Prints one line: `step S s
(fastest S), peak memory M MB` (median of STEPS steps after one warm-up step;
peak resident memory of the process; on cuda also what PyTorch reserved), and
the medians of the step's phases, as the Rust bench prints its own. Needs the venv of scripts/golden/make_tiny_vqgan.py
(torch, taming-transformers-rom1504, transformers); the Rust bench runs it with
the Python named by CLIP_ART_TORCH_PYTHON (default python3) and skips it when
an import fails.
"""
import os
import sys
import time

import torch
from torch.nn import functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "golden"))
sys.path.insert(0, HERE)
from make_tiny_vqgan import VQModel  # noqa: E402
from bench_common import clip_vit_b_32, report  # noqa: E402
from make_vqgan_clip_step import (Prompt, clamp_with_grad, features_of, resample,
                                  vector_quantize)  # noqa: E402

threads, side, cutn, steps = (int(a) for a in sys.argv[1:5])
device = torch.device(sys.argv[5] if len(sys.argv) > 5 else "cpu")
torch.set_num_threads(threads)
torch.manual_seed(0)

ddconfig = dict(double_z=False, z_channels=256, resolution=256, in_channels=3, out_ch=3,
                ch=128, ch_mult=[1, 1, 2, 2, 4], num_res_blocks=2, attn_resolutions=[16],
                dropout=0.0)
model = VQModel(ddconfig, n_embed=16384, embed_dim=256).eval().requires_grad_(False).to(device)
clip = clip_vit_b_32(device)
cut_size = 224
mean = torch.tensor([0.48145466, 0.4578275, 0.40821073], device=device).view(1, 3, 1, 1)
std = torch.tensor([0.26862954, 0.26130258, 0.27577711], device=device).view(1, 3, 1, 1)


def make_cutouts(input, cut_pow=1.0):
    """MakeCutouts.forward, 'original'."""
    side_y, side_x = input.shape[2:4]
    max_size = min(side_x, side_y)
    min_size = min(side_x, side_y, cut_size)
    cutouts = []
    for _ in range(cutn):
        size = int(torch.rand([]) ** cut_pow * (max_size - min_size) + min_size)
        offset_x = torch.randint(0, side_x - size + 1, ())
        offset_y = torch.randint(0, side_y - size + 1, ())
        cutout = input[:, :, offset_y:offset_y + size, offset_x:offset_x + size]
        cutouts.append(resample(cutout, (cut_size, cut_size)))
    return clamp_with_grad(torch.cat(cutouts, dim=0), 0, 1)


codebook = model.quantize.embedding.weight
grid = side // 16
codes = torch.randint(codebook.shape[0], [grid * grid], device=device)
z = (F.one_hot(codes, codebook.shape[0]).float() @ codebook).view(1, grid, grid, -1)
z = z.permute(0, 3, 1, 2).contiguous().requires_grad_(True)
z_min = codebook.min(dim=0).values[None, :, None, None]
z_max = codebook.max(dim=0).values[None, :, None, None]
prompt = Prompt(torch.randn(1, 512)).to(device)
optimiser = torch.optim.Adam([z], lr=0.1)
seconds = []
# The Rust bench's phases: the decoder's picture, the cutouts, CLIP and the
# loss, then the backward pass with Adam's step and the clamp.
phases = {"decoder": [], "cutouts": [], "CLIP": [], "backward and Adam": []}


def lap(phase, since):
    if device.type == "cuda":
        torch.cuda.synchronize()
    now = time.perf_counter()
    phases[phase].append(now - since)
    return now


for _ in range(steps + 1):
    start = time.perf_counter()
    optimiser.zero_grad()
    z_q = vector_quantize(z.movedim(1, 3), codebook).movedim(3, 1)
    picture = clamp_with_grad(model.decode(z_q).add(1).div(2), 0, 1)
    split = lap("decoder", start)
    views = make_cutouts(picture)
    split = lap("cutouts", split)
    features = features_of(clip.get_image_features(pixel_values=(views - mean) / std))
    loss = prompt(features.float())
    loss.item()
    split = lap("CLIP", split)
    loss.backward()
    optimiser.step()
    with torch.no_grad():
        z.copy_(z.maximum(z_min).minimum(z_max))
    loss.item()
    lap("backward and Adam", split)
    seconds.append(time.perf_counter() - start)
report(seconds, device, phases)
