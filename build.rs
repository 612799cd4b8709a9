//! Puts a hash of the course's sources among the compiler's arguments.
//!
//! The notebooks compile the course through evcxr, whose crate cache keys a compiled
//! crate by its compiler arguments alone. The notebooks' cargo configuration turns
//! incremental compilation off for the course so that the cache keeps it (a fresh
//! kernel then starts in seconds); without this hash an edited course would be served
//! from the cache as it was before the edit.

use std::fs;
use std::path::{Path, PathBuf};

/// The folders the library is compiled from: its code and the weights it embeds.
const SOURCES: [&str; 2] = ["src", "weights"];

fn main() {
    let mut files = Vec::new();
    for folder in SOURCES {
        println!("cargo::rerun-if-changed={folder}");
        collect_files(Path::new(folder), &mut files);
    }
    files.sort();
    let mut hash = Fnv1a::default();
    for file in &files {
        hash.write(file.to_string_lossy().as_bytes());
        let bytes = fs::read(file).unwrap_or_else(|error| {
            panic!("cannot read {}: {error}", file.display())
        });
        hash.write(&bytes);
    }
    println!("cargo::rustc-check-cfg=cfg(clip_art_sources, values(any()))");
    println!("cargo::rustc-cfg=clip_art_sources=\"{:016x}\"", hash.0);
}

fn collect_files(folder: &Path, files: &mut Vec<PathBuf>) {
    let entries = fs::read_dir(folder)
        .unwrap_or_else(|error| panic!("cannot list {}: {error}", folder.display()));
    for entry in entries {
        let path = entry.expect("a folder entry can be read").path();
        if path.is_dir() {
            collect_files(&path, files);
        } else {
            files.push(path);
        }
    }
}

/// FNV-1a, 64 bits: the same on every platform and toolchain, unlike std's hasher.
struct Fnv1a(u64);

impl Default for Fnv1a {
    fn default() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv1a {
    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = (self.0 ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}
