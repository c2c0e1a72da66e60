//! The training page's routes (`src/serve/train.rs`) through `warp::service`: the page, the
//! compiled-in wasm modules, and the MNIST files of `--data` as they are on disk, GET and HEAD
//! only, from a fixed list of names, regular files only.

use std::path::Path;
use std::sync::Arc;

use mnistlearn::serve::routes_with_data;
use mnistlearn_core::data::shuffle::Rng;
use mnistlearn_core::math::SimdLevel;
use mnistlearn_core::nn::Network;

use crate::common::{self, fixture_dir};

fn api(data: &Path) -> impl warp::Filter<Extract = (warp::reply::Response,), Error = std::convert::Infallible> + Clone {
    routes_with_data(Arc::new(Network::init(8, &mut Rng::from_seed(1))), SimdLevel::SCALAR, data)
}

#[tokio::test]
async fn data_files_are_sent_as_they_are_on_disk() {
    let api = api(&fixture_dir());
    for name in ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz"] {
        let on_disk = std::fs::read(fixture_dir().join(name)).unwrap();
        let res = common::request().path(&format!("/data/{name}")).reply(&api).await;
        assert_eq!(res.status(), 200, "{name}");
        assert_eq!(res.headers()["content-type"], "application/gzip");
        assert_eq!(res.headers()["content-length"], on_disk.len().to_string().as_str());
        assert!(res.body()[..] == on_disk[..], "{name}: the bytes differ from the file");
        let head = common::request().method("HEAD").path(&format!("/data/{name}")).reply(&api).await;
        assert_eq!(head.status(), 200);
        assert_eq!(head.headers()["content-length"], on_disk.len().to_string().as_str());
        assert!(head.body().is_empty());
    }
}

#[tokio::test]
async fn only_the_mnist_names_by_get_and_never_a_path() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("weights.bin"), b"secret").unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    std::fs::write(dir.path().join("sub").join("train-labels-idx1-ubyte.gz"), b"x").unwrap();
    let api = api(&dir.path().join("sub"));
    for path in ["/data/weights.bin", "/data/..%2Fweights.bin", "/data/../weights.bin", "/data/", "/data/sub/x"] {
        let res = common::request().path(path).reply(&api).await;
        assert_eq!(res.status(), 404, "{path}");
        assert!(!String::from_utf8_lossy(res.body()).contains("secret"));
    }
    let res = common::request().method("POST").path("/data/train-labels-idx1-ubyte.gz").reply(&api).await;
    assert_eq!(res.status(), 405);
    assert_eq!(res.headers()["allow"], "GET, HEAD");
}

#[tokio::test]
async fn a_missing_file_says_how_to_get_mnist_and_a_fifo_is_not_read() {
    let dir = tempfile::tempdir().unwrap();
    let api = api(dir.path());
    let res = common::request().path("/data/t10k-labels-idx1-ubyte.gz").reply(&api).await;
    assert_eq!(res.status(), 404);
    let body = String::from_utf8_lossy(res.body()).to_string();
    assert!(body.contains("cargo xtask fetch") && body.contains("t10k-labels-idx1-ubyte.gz"), "{body}");

    #[cfg(unix)]
    {
        let fifo = dir.path().join("train-images-idx3-ubyte.gz");
        let c_path = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
        let res = common::request().path("/data/train-images-idx3-ubyte.gz").reply(&api).await;
        assert_eq!(res.status(), 403);
        assert!(String::from_utf8_lossy(res.body()).contains("a FIFO; expected a regular file"));
    }
}

#[tokio::test]
async fn the_page_and_the_wasm_modules_are_compiled_in() {
    let api = api(&fixture_dir());
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for (path, kind, file) in [
        ("/train", "text/html; charset=utf-8", "web/train.html"),
        ("/train-worker.js", "text/javascript; charset=utf-8", "web/train-worker.js"),
        ("/wasm/glue.mjs", "text/javascript; charset=utf-8", "web/wasm/glue.mjs"),
        ("/wasm/mnistlearn.wasm", "application/wasm", "web/wasm/mnistlearn.wasm"),
        ("/wasm/mnistlearn-simd128.wasm", "application/wasm", "web/wasm/mnistlearn-simd128.wasm"),
    ] {
        let res = common::request().path(path).reply(&api).await;
        assert_eq!(res.status(), 200, "{path}");
        assert_eq!(res.headers()["content-type"], kind, "{path}");
        assert!(res.body()[..] == std::fs::read(root.join(file)).unwrap()[..], "{path}");
    }
    let res = common::request().method("POST").path("/train").reply(&api).await;
    assert_eq!(res.status(), 405);
    // The pages compile wasm: the policy every answer carries must allow exactly that.
    let (_, csp) =
        mnistlearn::serve::SECURITY_HEADERS.iter().find(|(name, _)| *name == "content-security-policy").unwrap();
    assert!(csp.contains("script-src 'self' 'wasm-unsafe-eval'"), "{csp}");
}
