//! PyTorch's own weight files (`torch.save` of a dict of tensors), in both of
//! its formats, so that a user never needs Python to convert one:
//! - the zip format (PyTorch 1.6 and later), which candle reads;
//! - the legacy format of the files published before 2020 (BigGAN's among
//!   them), which candle does not: five pickles in a row, then every storage's
//!   bytes. The pickles are read with candle's pickle reader; this file finds
//!   the tensors in them and cuts them out of the storages.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use anyhow::{Context, bail, ensure};
use candle_core::pickle::{Object, PthTensors, Stack};
use candle_core::{DType, Device, Tensor};

use crate::nn::weights::check_tensors;

/// `torch.save`'s legacy files open with this pickle: protocol 2, the magic
/// number 0x1950a86a20f9469cfc6c as a 10-byte LONG1, STOP.
const LEGACY_MAGIC: [u8; 15] = [
    0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50,
    0x19, 0x2e,
];
const LEGACY_PROTOCOL: i64 = 1001;

/// The tensors of a PyTorch weight file that `keep` names (with `key`, of
/// the dict under that key), in f32 on `device`, checked as every weight
/// file is ([`check_tensors`]).
pub fn model_tensors(
    path: &Path,
    key: Option<&str>,
    keep: impl Fn(&str) -> bool,
    device: &Device,
) -> anyhow::Result<HashMap<String, Tensor>> {
    let tensors = read_tensors(path, key, keep)?
        .into_iter()
        .map(|(name, t)| Ok((name, t.to_dtype(DType::F32)?.to_device(device)?)))
        .collect::<candle_core::Result<_>>()?;
    check_tensors(&tensors, &path.display().to_string())?;
    Ok(tensors)
}

/// The tensors of a PyTorch file that `keep` names, on the CPU and in the
/// dtype they were saved in; with `key`, those of the dict under that key (a
/// checkpoint's `state_dict`). Entries that are not tensors are skipped.
pub fn read_tensors(
    path: &Path,
    key: Option<&str>,
    keep: impl Fn(&str) -> bool,
) -> anyhow::Result<HashMap<String, Tensor>> {
    let shown = path.display();
    let mut head = [0u8; 4];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .with_context(|| format!("cannot read the PyTorch file {shown}"))?;
    if head == *b"PK\x03\x04" {
        let file = PthTensors::new(path, key)
            .with_context(|| format!("cannot read {shown} as a PyTorch zip file"))?;
        let mut tensors = HashMap::new();
        for name in file.tensor_infos().keys().filter(|name| keep(name)) {
            let tensor = file.get(name)?.context("listed, so present")?;
            tensors.insert(name.clone(), tensor);
        }
        return Ok(tensors);
    }
    read_legacy(path, key, keep).with_context(|| {
        format!("cannot read {shown} as a PyTorch file (zip or legacy format)")
    })
}

/// A storage a tensor points into: its key and element type.
struct StorageRef {
    key: String,
    dtype: DType,
}

/// A tensor as the pickle describes it: a window onto a storage.
struct TensorRef {
    storage: StorageRef,
    offset: usize,
    size: Vec<usize>,
    stride: Vec<usize>,
}

// ANCHOR: legacy
/// The legacy format: magic, protocol, system info, the object itself (its
/// tensors point at storages by key), the storages' keys, then each
/// storage's element count (8 bytes, little-endian) and its bytes, in the
/// order of the keys.
fn read_legacy(
    path: &Path,
    key: Option<&str>,
    keep: impl Fn(&str) -> bool,
) -> anyhow::Result<HashMap<String, Tensor>> {
    let mut reader = BufReader::new(std::fs::File::open(path)?);
    let mut magic = [0u8; LEGACY_MAGIC.len()];
    reader.read_exact(&mut magic)?;
    ensure!(
        magic == LEGACY_MAGIC,
        "it starts with neither PK nor torch's magic number"
    );
    let protocol = read_pickle(&mut reader)?;
    ensure!(
        protocol == Object::Int(LEGACY_PROTOCOL as i32),
        "legacy protocol {protocol:?}, expected {LEGACY_PROTOCOL}"
    );
    let system = read_pickle(&mut reader)?;
    ensure!(
        dict_entry(&system, "little_endian") == Some(&Object::Bool(true)),
        "it was saved on a big-endian machine"
    );
    let mut object = read_pickle(&mut reader)?;
    if let Some(key) = key {
        object = dict_entry(&object, key)
            .with_context(|| format!("it has no entry {key:?}"))?
            .clone();
    }
    let Object::Dict(entries) = object else {
        bail!("it holds no dict of tensors");
    };
    let mut refs = Vec::new();
    for (name, value) in entries {
        if let (Object::Unicode(name), Some(tensor)) = (name, tensor_ref(value)?) {
            refs.push((name, tensor));
        }
    }
    let Object::List(keys) = read_pickle(&mut reader)? else {
        bail!("the list of storage keys is missing");
    };
    let mut storages = HashMap::new();
    for key in keys {
        let key = key
            .unicode()
            .map_err(|o| anyhow::anyhow!("storage key {o:?}"))?;
        let dtype = refs
            .iter()
            .find(|(_, t)| t.storage.key == key)
            .map(|(_, t)| t.storage.dtype)
            .with_context(|| format!("storage {key} is used by no tensor"))?;
        let mut count = [0u8; 8];
        reader.read_exact(&mut count)?;
        let count = u64::from_le_bytes(count) as usize;
        let mut bytes = vec![0u8; count * dtype.size_in_bytes()];
        reader
            .read_exact(&mut bytes)
            .with_context(|| format!("storage {key} is cut short"))?;
        let storage =
            Tensor::from_raw_buffer(&bytes, dtype, &[count], &Device::Cpu)?;
        storages.insert(key, storage);
    }
    refs.into_iter()
        .filter(|(name, _)| keep(name))
        .map(|(name, tensor)| {
            let storage = storages
                .get(&tensor.storage.key)
                .with_context(|| format!("{name}'s storage is missing"))?;
            let cut = window(storage, &tensor)
                .with_context(|| format!("{name} does not fit its storage"))?;
            Ok((name, cut))
        })
        .collect()
}
// ANCHOR_END: legacy

/// One pickle, up to its STOP.
fn read_pickle(reader: &mut impl BufRead) -> anyhow::Result<Object> {
    let mut stack = Stack::empty();
    stack.read_loop(reader)?;
    Ok(stack.finalize()?)
}

fn dict_entry<'a>(dict: &'a Object, key: &str) -> Option<&'a Object> {
    let Object::Dict(entries) = dict else {
        return None;
    };
    entries
        .iter()
        .find(|(k, _)| matches!(k, Object::Unicode(k) if k == key))
        .map(|(_, v)| v)
}

/// `torch._utils._rebuild_tensor_v2(storage, offset, size, stride, …)`
/// (maybe inside `_rebuild_parameter`), or none for anything else.
fn tensor_ref(value: Object) -> anyhow::Result<Option<TensorRef>> {
    let Object::Reduce { callable, args } = value else {
        return Ok(None);
    };
    let (callable, args) = match (*callable, *args) {
        (Object::Class { class_name, .. }, Object::Tuple(mut inner))
            if class_name == "_rebuild_parameter" && !inner.is_empty() =>
        {
            match inner.remove(0) {
                Object::Reduce { callable, args } => (*callable, *args),
                _ => return Ok(None),
            }
        }
        pair => pair,
    };
    match callable {
        Object::Class { class_name, .. } if class_name == "_rebuild_tensor_v2" => {}
        _ => return Ok(None),
    }
    let broken = |what: &str| anyhow::anyhow!("a tensor's {what} cannot be read");
    let Object::Tuple(args) = args else {
        return Err(broken("arguments"));
    };
    let [storage, offset, size, stride, ..] = args.as_slice() else {
        return Err(broken("arguments"));
    };
    let Object::PersistentLoad(id) = storage else {
        return Err(broken("storage"));
    };
    // ('storage', type, key, location, element count, view metadata)
    let Object::Tuple(id) = id.as_ref() else {
        return Err(broken("storage"));
    };
    let (Some(Object::Class { class_name, .. }), Some(Object::Unicode(key))) =
        (id.get(1), id.get(2))
    else {
        return Err(broken("storage"));
    };
    ensure!(
        matches!(id.get(5), None | Some(Object::None)),
        "storage {key} is a view of another storage, which this reader does not follow"
    );
    let dtype = match class_name.as_str() {
        "FloatStorage" => DType::F32,
        "DoubleStorage" => DType::F64,
        "HalfStorage" => DType::F16,
        "BFloat16Storage" => DType::BF16,
        "LongStorage" => DType::I64,
        "ByteStorage" => DType::U8,
        other => {
            bail!("storage {key} holds {other}, which this reader does not read")
        }
    };
    let usizes = |o: &Object, what: &str| -> anyhow::Result<Vec<usize>> {
        match o {
            Object::Tuple(items) => items
                .iter()
                .map(|i| match i {
                    Object::Int(v) if *v >= 0 => Ok(*v as usize),
                    Object::Long(v) if *v >= 0 => Ok(*v as usize),
                    _ => Err(broken(what)),
                })
                .collect(),
            _ => Err(broken(what)),
        }
    };
    let offset = match offset {
        Object::Int(v) if *v >= 0 => *v as usize,
        Object::Long(v) if *v >= 0 => *v as usize,
        _ => return Err(broken("offset")),
    };
    Ok(Some(TensorRef {
        storage: StorageRef {
            key: key.clone(),
            dtype,
        },
        offset,
        size: usizes(size, "size")?,
        stride: usizes(stride, "stride")?,
    }))
}

/// The tensor `tensor` describes, cut out of its storage `[count]`.
fn window(storage: &Tensor, tensor: &TensorRef) -> anyhow::Result<Tensor> {
    let count: usize = tensor.size.iter().product();
    ensure!(
        tensor.size.len() == tensor.stride.len(),
        "size and stride differ in rank"
    );
    let mut row_major = vec![1; tensor.size.len()];
    for d in (0..tensor.size.len().saturating_sub(1)).rev() {
        row_major[d] = row_major[d + 1] * tensor.size[d + 1];
    }
    let last = tensor.offset
        + tensor
            .size
            .iter()
            .zip(&tensor.stride)
            .map(|(n, s)| n.saturating_sub(1) * s)
            .sum::<usize>();
    ensure!(
        count == 0 || last < storage.dim(0)?,
        "it reaches element {last} of a storage of {}",
        storage.dim(0)?
    );
    let contiguous = tensor
        .size
        .iter()
        .zip(tensor.stride.iter().zip(&row_major))
        .all(|(n, (s, r))| *n <= 1 || s == r);
    if contiguous {
        return Ok(storage
            .narrow(0, tensor.offset, count)?
            .reshape(tensor.size.as_slice())?);
    }
    // Any other strides: gather element by element.
    let indices: Vec<u32> = (0..count)
        .map(|flat| {
            let at: usize = (row_major.iter().zip(&tensor.size))
                .zip(&tensor.stride)
                .map(|((r, n), s)| flat / r % n * s)
                .sum();
            (tensor.offset + at) as u32
        })
        .collect();
    let indices = Tensor::from_vec(indices, count, &Device::Cpu)?;
    Ok(storage
        .index_select(&indices, 0)?
        .reshape(tensor.size.as_slice())?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn fixture(name: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/pth")
            .join(name)
    }

    #[test]
    fn a_legacy_file_gives_what_torch_saved_views_and_dtypes_included()
    -> anyhow::Result<()> {
        let found = read_tensors(&fixture("legacy.bin"), None, |_| true)?;
        let expected = candle_core::safetensors::load(
            fixture("legacy-expected.safetensors"),
            &Device::Cpu,
        )?;
        let mut names: Vec<_> = found.keys().cloned().collect();
        names.sort();
        assert_eq!(
            names,
            ["contiguous", "halves", "longs", "offset_view", "transposed"]
        );
        for (name, want) in &expected {
            let got = &found[name];
            assert_eq!(got.dtype(), want.dtype(), "{name}");
            assert_eq!(got.dims(), want.dims(), "{name}");
            let (got, want) =
                (got.to_dtype(DType::F64)?, want.to_dtype(DType::F64)?);
            let differ = (got - want)?.abs()?.max_all()?.to_scalar::<f64>()?;
            assert_eq!(differ, 0.0, "{name}");
        }
        Ok(())
    }

    #[test]
    fn a_file_cut_short_is_an_error_naming_it() -> anyhow::Result<()> {
        let bytes = std::fs::read(fixture("legacy.bin"))?;
        let dir = tempfile::tempdir()?;
        let cut = dir.path().join("cut.bin");
        std::fs::write(&cut, &bytes[..bytes.len() - 5])?;
        let error = format!("{:#}", read_tensors(&cut, None, |_| true).unwrap_err());
        assert!(
            error.contains("cut.bin") && error.contains("cut short"),
            "{error}"
        );
        std::fs::write(&cut, b"not a torch file at all")?;
        let error = format!("{:#}", read_tensors(&cut, None, |_| true).unwrap_err());
        assert!(error.contains("magic number"), "{error}");
        Ok(())
    }
}
