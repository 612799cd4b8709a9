//! One code path for every device: the same models run on the CPU, on an NVIDIA
//! GPU (`--features cuda`) or on Apple silicon (`--features metal`).

use candle_core::Device;

/// Which device to run on; `Auto` takes a GPU when the build supports one and it is there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeviceChoice {
    #[default]
    Auto,
    Cpu,
    Cuda,
    Metal,
}

impl std::str::FromStr for DeviceChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Ok(DeviceChoice::Auto),
            "cpu" => Ok(DeviceChoice::Cpu),
            "cuda" | "gpu" => Ok(DeviceChoice::Cuda),
            "metal" => Ok(DeviceChoice::Metal),
            other => Err(format!(
                "unknown device {other:?}: use auto, cpu, cuda or metal"
            )),
        }
    }
}

/// The device the golden tests run on: `CLIP_ART_TEST_DEVICE` (`cpu`,
/// `cuda` or `metal`; the CPU when unset), so that `scripts/device-check.sh`
/// runs the very same tests on a GPU.
pub fn test_device() -> Device {
    let choice =
        std::env::var("CLIP_ART_TEST_DEVICE").unwrap_or_else(|_| "cpu".into());
    let choice: DeviceChoice = choice
        .parse()
        .unwrap_or_else(|e| panic!("CLIP_ART_TEST_DEVICE: {e}"));
    open(choice).unwrap_or_else(|e| panic!("CLIP_ART_TEST_DEVICE={choice:?}: {e}"))
}

/// Opens the chosen device. Asking for a GPU the build or the machine lacks is an
/// error that says which cargo feature to enable.
pub fn open(choice: DeviceChoice) -> candle_core::Result<Device> {
    match choice {
        DeviceChoice::Cpu => Ok(Device::Cpu),
        DeviceChoice::Cuda if !candle_core::utils::cuda_is_available() => {
            candle_core::bail!(
                "this build has no CUDA support: rebuild with `--features cuda`"
            )
        }
        DeviceChoice::Metal if !candle_core::utils::metal_is_available() => {
            candle_core::bail!(
                "this build has no Metal support: rebuild with `--features metal`"
            )
        }
        DeviceChoice::Cuda => Device::new_cuda(0),
        DeviceChoice::Metal => Device::new_metal(0),
        DeviceChoice::Auto if candle_core::utils::cuda_is_available() => {
            Device::new_cuda(0)
        }
        DeviceChoice::Auto if candle_core::utils::metal_is_available() => {
            Device::new_metal(0)
        }
        DeviceChoice::Auto => Ok(Device::Cpu),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_and_unknown_names_are_explained() {
        assert_eq!("CPU".parse(), Ok(DeviceChoice::Cpu));
        assert_eq!("gpu".parse(), Ok(DeviceChoice::Cuda));
        let error = "tpu".parse::<DeviceChoice>().unwrap_err();
        assert!(
            error.contains("\"tpu\"") && error.contains("cuda"),
            "{error}"
        );
    }

    #[test]
    fn cpu_always_opens_and_a_missing_gpu_names_the_feature() {
        assert!(open(DeviceChoice::Cpu).unwrap().is_cpu());
        if !candle_core::utils::cuda_is_available() {
            let message = open(DeviceChoice::Cuda).unwrap_err().to_string();
            assert!(message.contains("--features cuda"), "{message}");
            assert!(
                open(DeviceChoice::Auto).unwrap().is_cpu()
                    || candle_core::utils::metal_is_available()
            );
        }
    }
}
