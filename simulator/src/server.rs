//! Starting and stopping a simulator.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::config::SimConfig;
use crate::routes;
use crate::shared::Shared;

/// A running simulator. Dropping it stops the server (open streams end).
#[derive(Debug)]
pub struct Simulator {
    addr: SocketAddr,
    shared: Arc<Shared>,
    server: JoinHandle<()>,
}

impl Simulator {
    /// Binds `config.listen` and serves the protocol until dropped. The
    /// port is bound when this returns: clients may connect at once.
    ///
    /// # Errors
    /// The address cannot be bound, or the snapshot directory cannot be
    /// created.
    pub async fn start(config: SimConfig) -> std::io::Result<Self> {
        std::fs::create_dir_all(&config.snapshot_dir)?;
        let listener = TcpListener::bind(config.listen).await?;
        let addr = listener.local_addr()?;
        let shared = Shared::new(config);
        let app = routes::router(shared.clone());
        let server = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(error = %e, "server stopped");
            }
        });
        Ok(Self {
            addr,
            shared,
            server,
        })
    }

    /// The bound address (the real port when `listen` had port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The cam state, for the fixture capture loop and for tests.
    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        self.server.abort();
    }
}
