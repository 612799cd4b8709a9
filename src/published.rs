//! The real models' published weights: what exists, every address each file
//! is known at, and where `clip-art weights fetch` keeps them. Dead links are
//! the first complaint of the existing VQGAN+CLIP tools' users, so every file
//! lists its mirrors, tried in turn, and a failed download says exactly what
//! to fetch by hand and where to put it. Downloading needs the `hub` feature
//! ([`fetch`]); the catalogue and the cache work without it.

use std::path::{Path, PathBuf};

/// One file of a published model.
#[derive(Debug)]
pub struct PublishedFile {
    /// Its name in the model's folder, as the loaders expect it.
    pub name: &'static str,
    /// Its size, where known (shown before a long download).
    pub bytes: Option<u64>,
    /// Its SHA-256 where the project knows it. Without it, a file from the
    /// Hugging Face hub is checked against the hash the hub sends with it.
    pub sha256: Option<&'static str>,
    /// Where it can be downloaded, tried in this order.
    pub mirrors: &'static [&'static str],
}

/// A published model: its files, and how to use the folder they make.
#[derive(Debug)]
pub struct Published {
    /// Its name on the command line.
    pub name: &'static str,
    pub description: &'static str,
    pub files: &'static [PublishedFile],
    /// The flag that takes the folder.
    pub flag: &'static str,
}

/// Every model `clip-art weights fetch` knows.
pub const CATALOGUE: &[Published] = &[
    Published {
        name: "clip-vit-b-32",
        description: "OpenAI's CLIP ViT-B/32 (Hugging Face's layout), the guide of VQGAN+CLIP",
        flag: "--clip",
        files: &[
            PublishedFile {
                name: "config.json",
                bytes: None,
                sha256: None,
                mirrors: &[
                    "https://huggingface.co/openai/clip-vit-base-patch32/resolve/main/config.json",
                    "https://hf-mirror.com/openai/clip-vit-base-patch32/resolve/main/config.json",
                ],
            },
            PublishedFile {
                name: "merges.txt",
                bytes: None,
                sha256: None,
                mirrors: &[
                    "https://huggingface.co/openai/clip-vit-base-patch32/resolve/main/merges.txt",
                    "https://hf-mirror.com/openai/clip-vit-base-patch32/resolve/main/merges.txt",
                ],
            },
            PublishedFile {
                name: "model.safetensors",
                bytes: None,
                sha256: None,
                mirrors: &[
                    "https://huggingface.co/openai/clip-vit-base-patch32/resolve/main/model.safetensors",
                    "https://hf-mirror.com/openai/clip-vit-base-patch32/resolve/main/model.safetensors",
                ],
            },
        ],
    },
    Published {
        name: "vqgan-imagenet-f16-16384",
        description: "taming's VQGAN trained on ImageNet, 16,384 codes, 16× smaller grid (the lecture's VQGAN+CLIP)",
        flag: "--vqgan",
        files: &[
            PublishedFile {
                name: "model.yaml",
                bytes: None,
                sha256: None,
                mirrors: &[
                    "https://heibox.uni-heidelberg.de/d/a7530b09fed84f80a887/files/?p=%2Fconfigs%2Fmodel.yaml&dl=1",
                    "https://heibox.uni-heidelberg.de/f/274fb24ed38341bfa753/?dl=1",
                    "http://mirror.io.community/blob/vqgan/vqgan_imagenet_f16_16384.yaml",
                ],
            },
            PublishedFile {
                name: "last.ckpt",
                bytes: Some(980_092_370),
                sha256: None,
                mirrors: &[
                    "https://heibox.uni-heidelberg.de/d/a7530b09fed84f80a887/files/?p=%2Fckpts%2Flast.ckpt&dl=1",
                    "https://heibox.uni-heidelberg.de/f/867b05fc8c4841768640/?dl=1",
                    "https://huggingface.co/Somnai/pytti-vqgan-checkpoints/resolve/main/imagenet/imagenet.ckpt",
                    "http://mirror.io.community/blob/vqgan/vqgan_imagenet_f16_16384.ckpt",
                ],
            },
        ],
    },
    Published {
        name: "vqgan-imagenet-f16-1024",
        description: "taming's VQGAN trained on ImageNet, 1,024 codes, 16× smaller grid",
        flag: "--vqgan",
        files: &[
            PublishedFile {
                name: "model.yaml",
                bytes: None,
                sha256: None,
                mirrors: &[
                    "https://heibox.uni-heidelberg.de/d/8088892a516d4e3baf92/files/?p=%2Fconfigs%2Fmodel.yaml&dl=1",
                ],
            },
            PublishedFile {
                name: "last.ckpt",
                bytes: None,
                sha256: None,
                mirrors: &[
                    "https://heibox.uni-heidelberg.de/d/8088892a516d4e3baf92/files/?p=%2Fckpts%2Flast.ckpt&dl=1",
                ],
            },
        ],
    },
    Published {
        name: "vqgan-gumbel-f8",
        description: "taming's Gumbel VQGAN trained on Open Images, 8,192 codes, 8× smaller grid",
        flag: "--vqgan",
        files: &[
            PublishedFile {
                name: "model.yaml",
                bytes: None,
                sha256: None,
                mirrors: &[
                    "https://heibox.uni-heidelberg.de/d/2e5662443a6b4307b470/files/?p=%2Fconfigs%2Fmodel.yaml&dl=1",
                ],
            },
            PublishedFile {
                name: "last.ckpt",
                bytes: None,
                sha256: None,
                mirrors: &[
                    "https://heibox.uni-heidelberg.de/d/2e5662443a6b4307b470/files/?p=%2Fckpts%2Flast.ckpt&dl=1",
                    "http://batbot.tv/ai/models/VQGAN/gumbel_f8_8192.ckpt",
                ],
            },
        ],
    },
    Published {
        name: "biggan-deep-128",
        description: "BigGAN-deep, 128×128, trained on ImageNet (Big Sleep's generator; pytorch-pretrained-biggan's files)",
        flag: "--biggan",
        files: &[
            PublishedFile {
                name: "config.json",
                bytes: None,
                sha256: None,
                mirrors: &[
                    "https://s3.amazonaws.com/models.huggingface.co/biggan/biggan-deep-128-config.json",
                    "https://huggingface.co/osanseviero/BigGAN-deep-128/resolve/main/config.json",
                ],
            },
            PublishedFile {
                name: "pytorch_model.bin",
                bytes: None,
                sha256: None,
                mirrors: &[
                    "https://s3.amazonaws.com/models.huggingface.co/biggan/biggan-deep-128-pytorch_model.bin",
                    "https://huggingface.co/osanseviero/BigGAN-deep-128/resolve/main/pytorch_model.bin",
                ],
            },
        ],
    },
    Published {
        name: "biggan-deep-256",
        description: "BigGAN-deep, 256×256, trained on ImageNet (Big Sleep's generator; pytorch-pretrained-biggan's files)",
        flag: "--biggan",
        files: &[
            PublishedFile {
                name: "config.json",
                bytes: None,
                sha256: None,
                mirrors: &[
                    "https://s3.amazonaws.com/models.huggingface.co/biggan/biggan-deep-256-config.json",
                ],
            },
            PublishedFile {
                name: "pytorch_model.bin",
                bytes: None,
                sha256: None,
                mirrors: &[
                    "https://s3.amazonaws.com/models.huggingface.co/biggan/biggan-deep-256-pytorch_model.bin",
                ],
            },
        ],
    },
    Published {
        name: "biggan-deep-512",
        description: "BigGAN-deep, 512×512, trained on ImageNet (Big Sleep's generator; pytorch-pretrained-biggan's files)",
        flag: "--biggan",
        files: &[
            PublishedFile {
                name: "config.json",
                bytes: None,
                sha256: None,
                mirrors: &[
                    "https://s3.amazonaws.com/models.huggingface.co/biggan/biggan-deep-512-config.json",
                ],
            },
            PublishedFile {
                name: "pytorch_model.bin",
                bytes: None,
                sha256: None,
                mirrors: &[
                    "https://s3.amazonaws.com/models.huggingface.co/biggan/biggan-deep-512-pytorch_model.bin",
                ],
            },
        ],
    },
];

/// The model of `name`, or an error listing the known names.
pub fn find(name: &str) -> anyhow::Result<&'static Published> {
    CATALOGUE.iter().find(|p| p.name == name).ok_or_else(|| {
        let known: Vec<&str> = CATALOGUE.iter().map(|p| p.name).collect();
        anyhow::anyhow!(
            "no published model is called {:?}; known: {}",
            crate::basics::preview(name),
            known.join(", ")
        )
    })
}

/// Where fetched weights are kept: `$CLIP_ART_WEIGHTS`, else
/// `$XDG_CACHE_HOME/clip-art/weights`, else `~/.cache/clip-art/weights`.
pub fn cache_root() -> PathBuf {
    if let Some(folder) = std::env::var_os("CLIP_ART_WEIGHTS") {
        return PathBuf::from(folder);
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|home| Path::new(&home).join(".cache"))
        })
        .unwrap_or_else(|| PathBuf::from(".cache"));
    cache.join("clip-art").join("weights")
}

impl Published {
    /// The folder this model's files go to under `root`: the one to pass
    /// with [`Published::flag`].
    pub fn folder(&self, root: &Path) -> PathBuf {
        root.join(self.name)
    }

    /// The files not yet complete under `root`.
    pub fn missing(&self, root: &Path) -> Vec<&'static PublishedFile> {
        let folder = self.folder(root);
        self.files
            .iter()
            .filter(|file| !folder.join(file.name).is_file())
            .collect()
    }
}

/// What to download by hand when no mirror answers: every address of
/// `file`, and where to put it.
pub fn by_hand(file: &PublishedFile, target: &Path) -> String {
    let mut text = format!(
        "download {} by hand from any of these addresses and save it as {}:",
        file.name,
        target.display()
    );
    for mirror in file.mirrors {
        text.push_str("\n  ");
        text.push_str(mirror);
    }
    text
}

/// Bytes as lowercase hex.
#[cfg(feature = "hub")]
fn hex(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// How a download is going, for a progress bar: bytes so far and, when the
/// server says, in all.
pub type OnProgress<'a> = dyn FnMut(&PublishedFile, u64, Option<u64>) + 'a;

/// Downloads the missing files of `model` into its folder under `root`,
/// each from its mirrors in turn, and returns the folder. A file arrives as
/// `NAME.part` and is renamed only once its SHA-256 is checked (against the
/// catalogue, or the hub's own hash); a file with no hash to compare gets
/// its hash written beside it (`NAME.sha256`) and said, so nothing is
/// trusted silently. When no mirror gives a file, the error lists every
/// address and what went wrong with each, and says where to put the file.
#[cfg(feature = "hub")]
pub fn fetch(
    model: &Published,
    root: &Path,
    on_progress: &mut OnProgress,
    mut say: impl FnMut(&str),
) -> anyhow::Result<PathBuf> {
    use anyhow::Context;
    let folder = model.folder(root);
    std::fs::create_dir_all(&folder)
        .with_context(|| format!("cannot create {}", folder.display()))?;
    let agent = ureq::AgentBuilder::new()
        .timeout_connect(std::time::Duration::from_secs(20))
        .timeout_read(std::time::Duration::from_secs(60))
        .build();
    for file in model.missing(root) {
        let target = folder.join(file.name);
        let mut failures = Vec::new();
        let mut done = false;
        for mirror in file.mirrors {
            crate::nn::progress::stop_if_interrupted(
                "the partial download was removed",
            )?;
            match download(&agent, mirror, file, &target, on_progress) {
                Ok(Verified::Checked) => {
                    say(&format!("{}: sha256 checked", file.name));
                    done = true;
                }
                Ok(Verified::Unchecked(sha)) => {
                    say(&format!(
                        "{}: no published sha256 to compare with; its sha256 is {sha} \
                         (kept in {}.sha256)",
                        file.name, file.name
                    ));
                    done = true;
                }
                Err(why) => failures.push(format!("  {mirror}: {why:#}")),
            }
            if done {
                break;
            }
        }
        anyhow::ensure!(
            done,
            "no mirror gave {}:\n{}\n{}",
            file.name,
            failures.join("\n"),
            by_hand(file, &target)
        );
    }
    Ok(folder)
}

/// Whether a downloaded file's hash was compared with a known one.
#[cfg(feature = "hub")]
enum Verified {
    Checked,
    Unchecked(String),
}

/// One file from one address into `target` (through `target.part`).
#[cfg(feature = "hub")]
fn download(
    agent: &ureq::Agent,
    address: &str,
    file: &PublishedFile,
    target: &Path,
    on_progress: &mut OnProgress,
) -> anyhow::Result<Verified> {
    use sha2::Digest;
    use std::io::{Read, Write};
    let response = agent.get(address).call().map_err(|e| match e {
        ureq::Error::Status(code, _) => {
            anyhow::anyhow!("the server answered {code}")
        }
        // Its own message repeats the address, which the caller shows.
        ureq::Error::Transport(failure) => match failure.message() {
            Some(message) => anyhow::anyhow!("{}: {message}", failure.kind()),
            None => anyhow::anyhow!("{}", failure.kind()),
        },
    })?;
    // The hub sends the SHA-256 of a large file as its linked ETag.
    let hub_sha = ["x-linked-etag", "etag"].iter().find_map(|header| {
        let value = response
            .header(header)?
            .trim_matches('"')
            .to_ascii_lowercase();
        (value.len() == 64 && value.bytes().all(|b| b.is_ascii_hexdigit()))
            .then_some(value)
    });
    let total = response
        .header("content-length")
        .and_then(|length| length.parse().ok())
        .or(file.bytes);
    let partial = target.with_file_name(format!("{}.part", file.name));
    let result = (|| -> anyhow::Result<String> {
        let mut out = std::fs::File::create(&partial)?;
        let mut reader = response.into_reader();
        let mut hasher = sha2::Sha256::new();
        let mut buffer = vec![0u8; 1 << 16];
        let mut received = 0u64;
        loop {
            crate::nn::progress::stop_if_interrupted(
                "the partial download was removed",
            )?;
            let n = reader.read(&mut buffer)?;
            if n == 0 {
                break;
            }
            hasher.update(&buffer[..n]);
            out.write_all(&buffer[..n])?;
            received += n as u64;
            on_progress(file, received, total);
        }
        out.sync_all()?;
        if let Some(total) = total {
            anyhow::ensure!(
                received == total,
                "the download stopped at {received} of {total} bytes"
            );
        }
        Ok(hex(&hasher.finalize()))
    })();
    let sha = match result {
        Ok(sha) => sha,
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            return Err(e);
        }
    };
    let expected = file.sha256.map(str::to_string).or(hub_sha);
    if let Some(expected) = &expected
        && *expected != sha
    {
        let _ = std::fs::remove_file(&partial);
        anyhow::bail!(
            "its sha256 is {sha}, expected {expected}: the file was removed"
        );
    }
    std::fs::rename(&partial, target)?;
    Ok(match expected {
        Some(_) => Verified::Checked,
        None => {
            let record = target.with_file_name(format!("{}.sha256", file.name));
            std::fs::write(&record, format!("{sha}  {}\n", file.name))?;
            Verified::Unchecked(sha)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_model_has_files_with_addresses_and_unknown_names_are_listed() {
        for model in CATALOGUE {
            assert!(!model.files.is_empty(), "{}", model.name);
            for file in model.files {
                assert!(
                    !file.mirrors.is_empty()
                        && file.mirrors.iter().all(|m| m.starts_with("http")),
                    "{}: {}",
                    model.name,
                    file.name
                );
            }
        }
        let error = find("vqgan-imagenet").unwrap_err().to_string();
        assert!(
            error.contains("vqgan-imagenet-f16-16384")
                && error.contains("clip-vit-b-32"),
            "{error}"
        );
        assert_eq!(find("vqgan-gumbel-f8").unwrap().flag, "--vqgan");
    }

    #[test]
    fn a_model_is_missing_until_each_of_its_files_is_there() -> anyhow::Result<()> {
        let root = tempfile::tempdir()?;
        let model = find("vqgan-imagenet-f16-16384")?;
        assert_eq!(model.missing(root.path()).len(), 2);
        std::fs::create_dir_all(model.folder(root.path()))?;
        std::fs::write(model.folder(root.path()).join("model.yaml"), "model:")?;
        let missing: Vec<&str> =
            model.missing(root.path()).iter().map(|f| f.name).collect();
        assert_eq!(missing, ["last.ckpt"]);
        let advice = by_hand(
            &model.files[1],
            &model.folder(root.path()).join("last.ckpt"),
        );
        assert!(
            advice.contains("heibox") && advice.contains("last.ckpt"),
            "{advice}"
        );
        Ok(())
    }

    /// A server on loopback that answers each path with its status and body
    /// (the hub's hash header too, when given), for `requests` requests.
    #[cfg(feature = "hub")]
    fn serve(
        answers: Vec<(&'static str, u16, Vec<u8>, Option<String>)>,
        requests: usize,
    ) -> String {
        use std::io::{BufRead, BufReader, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = format!("http://{}", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            for stream in listener.incoming().take(requests) {
                let mut stream = stream.unwrap();
                let mut line = String::new();
                BufReader::new(&stream).read_line(&mut line).unwrap();
                let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
                let (status, body, sha) = answers
                    .iter()
                    .find(|(p, ..)| *p == path)
                    .map(|(_, status, body, sha)| {
                        (*status, body.clone(), sha.clone())
                    })
                    .unwrap_or((404, Vec::new(), None));
                let sha = sha
                    .map(|s| format!("X-Linked-Etag: \"{s}\"\r\n"))
                    .unwrap_or_default();
                let head = format!(
                    "HTTP/1.1 {status} X\r\nContent-Length: {}\r\n{sha}Connection: close\r\n\r\n",
                    body.len()
                );
                stream.write_all(head.as_bytes()).unwrap();
                stream.write_all(&body).unwrap();
            }
        });
        address
    }

    #[cfg(feature = "hub")]
    fn model_at(mirrors: Vec<String>, sha256: Option<&'static str>) -> Published {
        let mirrors: Vec<&'static str> = mirrors
            .into_iter()
            .map(|m| &*Box::leak(m.into_boxed_str()))
            .collect();
        Published {
            name: "test-model",
            description: "a test",
            flag: "--test",
            files: Box::leak(Box::new([PublishedFile {
                name: "weights.bin",
                bytes: None,
                sha256,
                mirrors: Box::leak(mirrors.into_boxed_slice()),
            }])),
        }
    }

    #[cfg(feature = "hub")]
    #[test]
    fn mirrors_are_tried_in_turn_and_a_wrong_hash_is_never_kept()
    -> anyhow::Result<()> {
        use sha2::Digest;
        let body = b"the weights".to_vec();
        let sha = hex(&sha2::Sha256::digest(&body));
        let address = serve(
            vec![
                ("/good", 200, body.clone(), Some(sha.clone())),
                ("/corrupt", 200, b"the weighs".to_vec(), Some(sha.clone())),
            ],
            3,
        );
        let root = tempfile::tempdir()?;
        let mirrors =
            ["/gone", "/corrupt", "/good"].map(|p| format!("{address}{p}"));
        let model = model_at(mirrors.to_vec(), None);
        let mut said = Vec::new();
        let folder = fetch(&model, root.path(), &mut |_, _, _| {}, |s| {
            said.push(s.to_string())
        })?;
        assert_eq!(std::fs::read(folder.join("weights.bin"))?, body);
        assert_eq!(said, ["weights.bin: sha256 checked"]);
        let leftovers: Vec<_> = std::fs::read_dir(&folder)?
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(leftovers, ["weights.bin"]);
        Ok(())
    }

    #[cfg(feature = "hub")]
    #[test]
    fn when_no_mirror_answers_the_error_says_what_to_download_by_hand()
    -> anyhow::Result<()> {
        let address = serve(vec![("/corrupt", 200, b"junk".to_vec(), None)], 2);
        let root = tempfile::tempdir()?;
        let mirrors = ["/gone", "/corrupt"].map(|p| format!("{address}{p}"));
        let model = model_at(mirrors.to_vec(), Some("00".repeat(32).leak()));
        let error =
            fetch(&model, root.path(), &mut |_, _, _| {}, |_| {}).unwrap_err();
        let text = format!("{error:#}");
        for part in [
            "/gone: the server answered 404",
            "/corrupt: its sha256 is",
            "by hand",
            "weights.bin",
        ] {
            assert!(text.contains(part), "{part:?} not in {text}");
        }
        let folder = model.folder(root.path());
        assert_eq!(
            std::fs::read_dir(&folder)?.count(),
            0,
            "nothing half-written is left"
        );
        Ok(())
    }
}
