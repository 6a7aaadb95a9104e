//! A proxy's tunnel says nothing until the request is sent. Bytes that come with (or right
//! after) a CONNECT proxy's `200 Connection established` would be read as the answer to a
//! request not yet made: a proxy forging the server's answer. Through TLS the handshake
//! refuses them; to a plain-HTTP endpoint this link of ureq's connector chain does.

use ureq::unversioned::transport::{ConnectionDetails, Connector, Transport};
use ureq::ProxyProtocol;

#[derive(Debug, Default)]
pub(crate) struct SilentTunnel;

impl<In: Transport> Connector<In> for SilentTunnel {
    type Out = In;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<In>,
    ) -> Result<Option<Self::Out>, ureq::Error> {
        let Some(mut transport) = chained else {
            return Ok(None);
        };
        let Some(proxy) = details.config.proxy() else {
            return Ok(Some(transport));
        };
        if transport.is_tls() {
            return Ok(Some(transport));
        }
        let buffered = !transport.buffers().input().is_empty();
        // The socket is probed only when the proxy leg is plain TCP: over TLS to the proxy, a
        // session ticket may be waiting there, which is no answer.
        let waiting = proxy.protocol() == ProxyProtocol::Http && !transport.is_open();
        if buffered || waiting {
            return Err(ureq::Error::ConnectProxyFailed(
                "the proxy sent bytes before the request was made, or closed the tunnel".into(),
            ));
        }
        Ok(Some(transport))
    }
}
