"""What both PyTorch benches print: the median step and the peak memory."""
import statistics


def report(seconds, device):
    """One line: the median of the timed steps (the first warmed up), the
    fastest, the process's peak resident memory and, on cuda, what PyTorch
    reserved on the GPU."""
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
