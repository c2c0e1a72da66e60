//! The drawing app's server (the original's `app/server.c`), on warp.

use std::net::SocketAddr;
use std::path::Path;

use crate::math::SimdLevel;
use crate::Error;

/// Serves the drawing page and `POST /predict` until Ctrl-C.
pub fn run(_addr: SocketAddr, _weights: &Path, _level: SimdLevel) -> Result<(), Error> {
    Err(Error::Other("serve: not built yet".into()))
}
