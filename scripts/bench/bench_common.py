"""What the PyTorch step benches share: ViT-B/32 with random weights, and the
line they print (the median step and the peak memory)."""
import statistics


def clip_vit_b_32(device):
    """transformers' CLIPModel with ViT-B/32's sizes, random frozen weights."""
    from transformers import CLIPConfig, CLIPModel

    return CLIPModel(CLIPConfig(
        text_config=dict(hidden_size=512, intermediate_size=2048, num_hidden_layers=12,
                         num_attention_heads=8, hidden_act="quick_gelu"),
        vision_config=dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12,
                           num_attention_heads=12, image_size=224, patch_size=32,
                           hidden_act="quick_gelu"),
        projection_dim=512)).eval().requires_grad_(False).to(device)


def report(seconds, device, phases=None):
    """One line: the median of the timed steps (the first warmed up), the
    fastest, the process's peak resident memory and, on cuda, what PyTorch
    reserved on the GPU; then, if given, the median of each phase."""
    import torch

    timed = seconds[1:]
    # VmHWM, not ru_maxrss: a process started by the Rust bench inherits its
    # ru_maxrss across exec.
    with open("/proc/self/status") as status:
        peak = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024
    gpu = (f", PyTorch reserved {torch.cuda.max_memory_reserved() / 2**20:.0f} MiB on the GPU"
           if device.type == "cuda" else "")
    print(f"step {statistics.median(timed):.2f} s (fastest {min(timed):.2f}), "
          f"peak memory {peak:.0f} MB (process){gpu}")
    if phases:
        print("medians: " + ", ".join(f"{name} {statistics.median(times[1:]):.2f} s"
                                       for name, times in phases.items()))
