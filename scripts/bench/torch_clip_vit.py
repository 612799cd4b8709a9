#!/usr/bin/env python3
"""PyTorch side of `cargo bench --bench clip_vit`: the same measurement as the
Rust bench, on the reference implementation (transformers' CLIP vision tower
with the ViT-B/32 shape, random frozen weights, f32, CPU): guidance freezes
CLIP and needs the gradient at the pixels only.

Prints one line per batch size: `batch N: forward S s (fastest S), forward+backward
S s (fastest S)`: medians, then the fastest run. Needs torch and transformers; the Rust bench runs it with the
Python named by CLIP_ART_TORCH_PYTHON (default python3) and skips it when the
import fails.
"""
import statistics
import sys
import time

import torch
from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

threads = int(sys.argv[1]) if len(sys.argv) > 1 else 2
batches = [int(b) for b in sys.argv[2:]] or [1, 32]
torch.set_num_threads(threads)
torch.manual_seed(0)
config = CLIPVisionConfig(hidden_size=768, intermediate_size=3072, num_hidden_layers=12,
                          num_attention_heads=12, image_size=224, patch_size=32,
                          projection_dim=512, hidden_act="quick_gelu")
model = CLIPVisionModelWithProjection(config).eval().requires_grad_(False)
for batch in batches:
    repeats = 10 if batch == 1 else 3
    forward, both = [], []
    for _ in range(repeats + 1):  # the first run warms up
        pixels = torch.randn(batch, 3, 224, 224, requires_grad=True)
        start = time.perf_counter()
        with torch.no_grad():
            model(pixel_values=pixels.detach()).image_embeds
        forward.append(time.perf_counter() - start)
        start = time.perf_counter()
        model(pixel_values=pixels).image_embeds.sum().backward()
        both.append(time.perf_counter() - start)
    summary = lambda runs: f"{statistics.median(runs):.3f} s (fastest {min(runs):.3f})"
    print(f"batch {batch}: forward {summary(forward[1:])}, "
          f"forward+backward {summary(both[1:])}", flush=True)
