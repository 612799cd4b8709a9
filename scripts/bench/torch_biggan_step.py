#!/usr/bin/env python3
"""PyTorch side of `cargo bench --bench biggan_step`: the same Big Sleep step, as
lucidrains' big-sleep takes it (its Latents with sigmoid classes, BigGAN's
layered forward, rand_cutout with sizes width * N(.8, .3).clip(.5, .95),
F.interpolate nearest to 224, CLIP's normalisation, -100 * cosine, lat_loss and
cls_loss, Adam, the EMA update), on the reference modules:
pytorch-pretrained-biggan's BigGAN with biggan-deep-256's sizes and transformers'
CLIPModel with ViT-B/32's, random frozen weights, f32.

Arguments: THREADS CUTOUTS STEPS [DEVICE]. Prints one line: `step S s (fastest
S), peak memory M MB` (median of STEPS steps after one warm-up step; peak
resident memory of the process; on cuda also what PyTorch reserved). Needs the
venv of scripts/golden/make_tiny_biggan.py with transformers; the Rust bench
runs it with the Python named by CLIP_ART_TORCH_PYTHON (default python3) and
skips it when an import fails.
"""
import os
import sys
import time

import torch
from torch.nn import functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "golden"))
sys.path.insert(0, HERE)
from make_tiny_biggan import layered  # noqa: E402
from bench_common import clip_vit_b_32, report  # noqa: E402
from pytorch_pretrained_biggan import BigGAN, BigGANConfig  # noqa: E402

threads, cutn, steps = (int(a) for a in sys.argv[1:4])
device = torch.device(sys.argv[4] if len(sys.argv) > 4 else "cpu")
torch.set_num_threads(threads)
torch.manual_seed(0)

LAYERS = [(False, 16, 16), (True, 16, 16), (False, 16, 16), (True, 16, 8), (False, 8, 8),
          (True, 8, 8), (False, 8, 8), (True, 8, 4), (False, 4, 4), (True, 4, 2),
          (False, 2, 2), (True, 2, 1)]
biggan = BigGAN(BigGANConfig(output_dim=256, layers=LAYERS, attention_layer_position=8))
with torch.no_grad():
    biggan.generator.bn.weight.fill_(1)
    biggan.generator.bn.bias.zero_()
biggan = biggan.eval().requires_grad_(False).to(device)
clip = clip_vit_b_32(device)
mean = torch.tensor([0.48145466, 0.4578275, 0.40821073], device=device).view(1, 3, 1, 1)
std = torch.tensor([0.26862954, 0.26130258, 0.27577711], device=device).view(1, 3, 1, 1)
rows = len(LAYERS) + 1
normu = torch.randn(rows, 128, device=device).requires_grad_()
cls = (-3.9 + 0.3 * torch.randn(rows, 1000, device=device)).requires_grad_()
biased = [torch.zeros_like(normu), torch.zeros_like(cls)]
text = F.normalize(torch.randn(1, 512, device=device), dim=-1)
optimiser = torch.optim.Adam([normu, cls], lr=0.07)


def features_of(output):
    """get_image_features: the features (transformers 4) or an output whose
    pooler_output holds them (transformers 5)."""
    return output if isinstance(output, torch.Tensor) else output.pooler_output


def losses(latents, classes):
    lat = (torch.abs(1 - torch.std(latents, dim=1)).mean()
           + torch.abs(torch.mean(latents, dim=1)).mean()
           + 4 * torch.max(torch.square(latents).mean(), torch.tensor(1.0, device=device)))
    for array in latents:
        diffs = array - array.mean()
        zscores = diffs / diffs.pow(2).mean().pow(0.5)
        lat = lat + (torch.abs(zscores.pow(4).mean() - 3) + torch.abs(zscores.pow(3).mean())) / rows
    return lat + ((50 * torch.topk(classes, largest=False, dim=1, k=999)[0]) ** 2).mean()


seconds = []
for _ in range(steps + 1):
    start = time.perf_counter()
    optimiser.zero_grad()
    classes = torch.sigmoid(cls)
    out = (layered(biggan, normu, classes, 1.0) + 1) / 2
    pieces = []
    for _ in range(cutn):
        size = int(256 * torch.zeros(1).normal_(mean=.8, std=.3).clip(.5, .95))
        x, y = (int(torch.randint(0, 256 - size + 1, ())) for _ in range(2))
        pieces.append(F.interpolate(out[:, :, x:x + size, y:y + size], (224, 224), mode="nearest"))
    image = features_of(clip.get_image_features(pixel_values=(torch.cat(pieces) - mean) / std))
    similarity = torch.cosine_similarity(text, image, dim=-1).mean()
    loss = losses(normu, classes) - 100 * similarity
    loss.backward()
    optimiser.step()
    with torch.no_grad():
        for average, current in zip(biased, [normu, cls]):
            average.mul_(0.99).add_(current, alpha=0.01)
    loss.item()
    seconds.append(time.perf_counter() - start)
report(seconds, device)
