//! TCP over mio (Kamaelia's `Kamaelia.Internet`): a selector, clients, servers and the
//! `ServerCore` prefab.

pub mod selector;
pub mod server_core;
pub mod tcp_client;
pub mod tcp_server;
