//! WiFi interfaces and stations → `node_wifi_interface_frequency_hertz{device}`,
//! `node_wifi_station_info{device,bssid,ssid,mode}` and ten `node_wifi_station_*` families by
//! `{device,mac_address}`; node_exporter's wifi collector (off by default).
//!
//! nl80211 over generic netlink (include/uapi/linux/nl80211.h), as the mdlayher/wifi library
//! upstream uses asks it: the family's id from nlctrl, a `NL80211_CMD_GET_INTERFACE` dump, and
//! per named interface a `NL80211_CMD_GET_SCAN` dump (the BSS that carries a
//! `NL80211_BSS_STATUS` is the one the interface belongs to; its SSID comes from the
//! information elements) and a `NL80211_CMD_GET_STATION` dump. A host without nl80211, or
//! where it may not be asked, reports no data, as upstream.
//!
//! With `--collector.wifi.fixtures=<dir>` it reads upstream's end-to-end fixtures instead:
//! `<dir>/interfaces.json` and, per interface, `<dir>/<name>/bss.json` and
//! `<dir>/<name>/stationinfo.json` (the library's structs as Go's JSON encoder writes them:
//! `{"name": "wlan0", "type": 2, "frequency": 2412}`, hardware addresses in base64).

use super::gojson::{self, Bytes, GoStruct, JsonError, Str};
use super::{nl, Build, Collector, Error, Flag, FlagKind, Spec};
use crate::encode::{Encoder, FamilyId, Kind};
use crate::netaddr;
use crate::netlink::genl::{self, Family, GENLMSGHDR_LEN};
use crate::netlink::{self, ne_u16, ne_u32, ne_u64, trim_nul, Attrs, Messages, Protocol, Socket};
use crate::netlink::{F_DUMP, F_REQUEST};
use crate::source;
use rustix::io::Errno;
use serde::de::MapAccess;
use std::convert::Infallible;
use std::ffi::CStr;

/// Registration.
pub const SPEC: Spec =
    Spec { name: "wifi", default_enabled: false, flags: FLAGS, blocking: false, build };

const FIXTURES: &str = "collector.wifi.fixtures";

const FLAGS: &[Flag] = &[Flag {
    name: FIXTURES,
    help: "test fixtures to use for wifi collector metrics",
    kind: FlagKind::String,
    default: "",
    aliases: &[],
}];

const GETFAMILY: &str = "genetlink nl80211 family";
const GET_INTERFACE: &str = "nl80211 NL80211_CMD_GET_INTERFACE";
const GET_SCAN: &str = "nl80211 NL80211_CMD_GET_SCAN";
const GET_STATION: &str = "nl80211 NL80211_CMD_GET_STATION";
const FIXTURE_INTERFACES: &str = "wifi fixtures interfaces.json";
const FIXTURE_BSS: &str = "wifi fixtures bss.json";
const FIXTURE_STATIONS: &str = "wifi fixtures stationinfo.json";

const CMD_GET_INTERFACE: u8 = 5;
const CMD_GET_STATION: u8 = 17;
const CMD_GET_SCAN: u8 = 32;
const ATTR_IFINDEX: u16 = 3;
const ATTR_IFNAME: u16 = 4;
const ATTR_IFTYPE: u16 = 5;
const ATTR_MAC: u16 = 6;
const ATTR_WIPHY: u16 = 1;
const ATTR_STA_INFO: u16 = 21;
const ATTR_WIPHY_FREQ: u16 = 38;
const ATTR_BSS: u16 = 47;
const ATTR_WDEV: u16 = 153;
const BSS_BSSID: u16 = 1;
const BSS_FREQUENCY: u16 = 2;
const BSS_BEACON_INTERVAL: u16 = 4;
const BSS_INFORMATION_ELEMENTS: u16 = 6;
const BSS_STATUS: u16 = 9;
const BSS_SEEN_MS_AGO: u16 = 10;
const STA_INACTIVE_TIME: u16 = 1;
const STA_RX_BYTES: u16 = 2;
const STA_TX_BYTES: u16 = 3;
const STA_SIGNAL: u16 = 7;
const STA_TX_BITRATE: u16 = 8;
const STA_RX_PACKETS: u16 = 9;
const STA_TX_PACKETS: u16 = 10;
const STA_TX_RETRIES: u16 = 11;
const STA_TX_FAILED: u16 = 12;
const STA_RX_BITRATE: u16 = 14;
const STA_CONNECTED_TIME: u16 = 16;
const STA_BEACON_LOSS: u16 = 18;
const STA_RX_BYTES64: u16 = 23;
const STA_TX_BYTES64: u16 = 24;
const RATE_BITRATE: u16 = 1;
const RATE_BITRATE32: u16 = 5;
/// The SSID information element.
const IE_SSID: u8 = 0;

fn build(b: &Build<'_>) -> Result<Box<dyn Collector>, String> {
    let source = match b.settings.str(FIXTURES) {
        "" => Source::Nl80211(Nl80211 {
            sock: Socket::new(Protocol::Generic),
            family: None,
            ifaces: Vec::new(),
            scan: Vec::new(),
            stations: Vec::new(),
        }),
        dir => Source::Fixture(Fixture {
            dir: dir.as_bytes().to_vec(),
            path: Vec::new(),
            ifaces: Vec::new(),
            bss: Vec::new(),
            stations: Vec::new(),
        }),
    };
    Ok(Box::new(Wifi { source, text: Vec::new(), ssid: Vec::new() }))
}

#[derive(Debug)]
struct Wifi {
    source: Source,
    /// Label scratch: hardware addresses.
    text: Vec<u8>,
    /// The SSID decoded from a BSS's information elements.
    ssid: Vec<u8>,
}

#[derive(Debug)]
enum Source {
    Nl80211(Nl80211),
    Fixture(Fixture),
}

#[derive(Debug)]
struct Nl80211 {
    sock: Socket,
    /// nl80211's id and version, looked up again whenever the socket was reopened.
    family: Option<Family>,
    ifaces: Vec<u8>,
    scan: Vec<u8>,
    stations: Vec<u8>,
}

#[derive(Debug)]
struct Fixture {
    /// The fixture directory as given.
    dir: Vec<u8>,
    /// Scratch for the NUL-terminated path of the file being read.
    path: Vec<u8>,
    ifaces: Vec<u8>,
    bss: Vec<u8>,
    stations: Vec<u8>,
}

/// An interface, as far as it is reported.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Iface<'a> {
    /// `NL80211_ATTR_IFINDEX`.
    pub index: u32,
    /// `NL80211_ATTR_IFNAME`; interfaces without one are skipped.
    pub name: &'a [u8],
    /// `NL80211_ATTR_MAC`, if the interface has one.
    pub mac: Option<&'a [u8]>,
    /// `NL80211_ATTR_WIPHY_FREQ`, MHz.
    pub frequency: i64,
}

/// The BSS an interface belongs to.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Bss<'a> {
    /// The BSSID (the access point's address).
    pub bssid: &'a [u8],
    /// The SSID, as text.
    pub ssid: &'a [u8],
    /// `NL80211_BSS_STATUS`: 0 authenticated, 1 associated, 2 IBSS joined.
    pub status: i64,
}

/// A station's statistics, in the library's units (nanoseconds, bits per second).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Station<'a> {
    /// The station's hardware address.
    pub mac: &'a [u8],
    /// Time connected, ns.
    pub connected: i64,
    /// Time since last activity, ns.
    pub inactive: i64,
    /// Bytes received.
    pub rx_bytes: i64,
    /// Bytes sent.
    pub tx_bytes: i64,
    /// Receive bitrate, bit/s.
    pub rx_bitrate: i64,
    /// Transmit bitrate, bit/s.
    pub tx_bitrate: i64,
    /// Signal, dBm.
    pub signal: i64,
    /// Transmit retries.
    pub tx_retries: i64,
    /// Failed transmissions.
    pub tx_failed: i64,
    /// Beacon losses.
    pub beacon_loss: i64,
}

/// The twelve families, declared once per scrape.
struct Families {
    frequency: FamilyId,
    info: FamilyId,
    station: [FamilyId; 10],
}

impl Families {
    fn declare(enc: &mut Encoder) -> Families {
        let (c, g) = (Kind::Counter, Kind::Gauge);
        let mut fam = |name: &str, help: &str, kind| enc.family(name, help, kind);
        Families {
            frequency: fam(
                "node_wifi_interface_frequency_hertz",
                "The current frequency a WiFi interface is operating at, in hertz.",
                g,
            ),
            info: fam(
                "node_wifi_station_info",
                "Labeled WiFi interface station information as provided by the operating system.",
                g,
            ),
            station: [
                fam(
                    "node_wifi_station_connected_seconds_total",
                    "The total number of seconds a station has been connected to an access point.",
                    c,
                ),
                fam(
                    "node_wifi_station_inactive_seconds",
                    "The number of seconds since any wireless activity has occurred on a station.",
                    g,
                ),
                fam(
                    "node_wifi_station_receive_bits_per_second",
                    "The current WiFi receive bitrate of a station, in bits per second.",
                    g,
                ),
                fam(
                    "node_wifi_station_transmit_bits_per_second",
                    "The current WiFi transmit bitrate of a station, in bits per second.",
                    g,
                ),
                fam(
                    "node_wifi_station_receive_bytes_total",
                    "The total number of bytes received by a WiFi station.",
                    c,
                ),
                fam(
                    "node_wifi_station_transmit_bytes_total",
                    "The total number of bytes transmitted by a WiFi station.",
                    c,
                ),
                fam(
                    "node_wifi_station_signal_dbm",
                    "The current WiFi signal strength, in decibel-milliwatts (dBm).",
                    g,
                ),
                fam(
                    "node_wifi_station_transmit_retries_total",
                    "The total number of times a station has had to retry while sending a packet.",
                    c,
                ),
                fam(
                    "node_wifi_station_transmit_failed_total",
                    "The total number of times a station has failed to send a packet.",
                    c,
                ),
                fam(
                    "node_wifi_station_beacon_loss_total",
                    "The total number of times a station has detected a beacon loss.",
                    c,
                ),
            ],
        }
    }

    fn frequency(&self, enc: &mut Encoder, device: &[u8], mhz: i64) {
        enc.sample(self.frequency, &[("device", device)], mhz as f64 * 1000.0 * 1000.0);
    }

    fn bss(&self, enc: &mut Encoder, device: &[u8], bss: &Bss<'_>, text: &mut Vec<u8>) {
        let mode: &[u8] = match bss.status {
            0 | 1 => b"client",
            2 => b"ad-hoc",
            _ => b"unknown",
        };
        text.clear();
        netaddr::write_mac(text, bss.bssid);
        let labels = [("device", device), ("bssid", &text[..]), ("ssid", bss.ssid), ("mode", mode)];
        enc.sample(self.info, &labels, 1.0);
    }

    fn station(&self, enc: &mut Encoder, device: &[u8], st: &Station<'_>, text: &mut Vec<u8>) {
        text.clear();
        netaddr::write_mac(text, st.mac);
        let labels = [("device", device), ("mac_address", &text[..])];
        let values = [
            gojson::duration_seconds(st.connected),
            gojson::duration_seconds(st.inactive),
            st.rx_bitrate as f64,
            st.tx_bitrate as f64,
            st.rx_bytes as f64,
            st.tx_bytes as f64,
            st.signal as f64,
            st.tx_retries as f64,
            st.tx_failed as f64,
            st.beacon_loss as f64,
        ];
        for (&f, v) in self.station.iter().zip(values) {
            enc.sample(f, &labels, v);
        }
    }
}

impl Collector for Wifi {
    fn update(&mut self, enc: &mut Encoder) -> Result<(), Error> {
        let fams = Families::declare(enc);
        let cp = enc.checkpoint();
        let Wifi { source, text, ssid } = self;
        let r = match source {
            Source::Nl80211(n) => n.update(enc, &fams, text, ssid),
            Source::Fixture(f) => f.update(enc, &fams, text),
        };
        if r.is_err() {
            enc.rollback(cp);
        }
        r
    }
}

/// Whether a failure to reach nl80211 means the host has no WiFi data for us (no nl80211, or
/// no permission), which upstream reports as no data rather than an error.
fn is_unavailable(e: netlink::Error) -> bool {
    matches!(e.errno(), Some(Errno::NOENT | Errno::ACCESS | Errno::PERM))
}

impl Nl80211 {
    fn update(
        &mut self,
        enc: &mut Encoder,
        fams: &Families,
        text: &mut Vec<u8>,
        ssid: &mut Vec<u8>,
    ) -> Result<(), Error> {
        let Nl80211 { sock, family, ifaces, scan, stations } = self;
        if !sock.is_open() {
            *family = None;
        }
        let fam = match *family {
            Some(f) => f,
            None => match genl::family(sock, "nl80211", scan) {
                Ok(f) => *family.insert(f),
                Err(e) if is_unavailable(e) => return Err(Error::NoData),
                Err(e) => return Err(nl::error(GETFAMILY)(e)),
            },
        };
        let msgs = nl80211_dump(sock, fam, CMD_GET_INTERFACE, None, ifaces)
            .map_err(nl::error(GET_INTERFACE))?;
        // Upstream parses every interface before asking about any.
        for msg in msgs {
            parse_interface(msg.payload).map_err(nl::error(GET_INTERFACE))?;
        }
        for msg in msgs {
            let ifi = parse_interface(msg.payload).map_err(nl::error(GET_INTERFACE))?;
            if ifi.name.is_empty() {
                continue;
            }
            fams.frequency(enc, ifi.name, ifi.frequency);
            // A missing BSS or station list (ENOENT, or nothing found) is skipped, as upstream.
            match nl80211_dump(sock, fam, CMD_GET_SCAN, Some(&ifi), scan) {
                Ok(replies) => {
                    if let Some(bss) = find_bss(replies, ssid).map_err(nl::error(GET_SCAN))? {
                        fams.bss(enc, ifi.name, &bss, text);
                    }
                }
                Err(netlink::Error::Kernel(Errno::NOENT)) => {}
                Err(e) => return Err(nl::error(GET_SCAN)(e)),
            }
            match nl80211_dump(sock, fam, CMD_GET_STATION, Some(&ifi), stations) {
                Ok(replies) => {
                    if check_stations(replies).map_err(nl::error(GET_STATION))? {
                        for msg in replies {
                            if let Some(st) = parse_station(msg.payload).ok().flatten() {
                                fams.station(enc, ifi.name, &st, text);
                            }
                        }
                    }
                }
                Err(netlink::Error::Kernel(Errno::NOENT)) => {}
                Err(e) => return Err(nl::error(GET_STATION)(e)),
            }
        }
        Ok(())
    }
}

/// Sends the nl80211 dump request `cmd`, about the interface `ifi` if given (its index and,
/// as the library adds it, its address), and reads the replies into `out`.
fn nl80211_dump<'o>(
    sock: &mut Socket,
    fam: Family,
    cmd: u8,
    ifi: Option<&Iface<'_>>,
    out: &'o mut Vec<u8>,
) -> Result<Messages<'o>, netlink::Error> {
    sock.request(
        fam.id,
        F_REQUEST | F_DUMP,
        |r| {
            r.bytes(&[cmd, fam.version, 0, 0]);
            if let Some(ifi) = ifi {
                r.attr_u32(ATTR_IFINDEX, ifi.index);
                if let Some(mac) = ifi.mac {
                    r.attr(ATTR_MAC, mac);
                }
            }
        },
        out,
    )
}

/// Reads a `NL80211_CMD_GET_INTERFACE` reply.
///
/// # Errors
/// Attributes not framed right, or an integer attribute too short for its type (where the
/// library would panic).
pub fn parse_interface(payload: &[u8]) -> Result<Iface<'_>, netlink::Error> {
    let (_, attrs) = netlink::Message { ty: 0, flags: 0, payload }.split(GENLMSGHDR_LEN)?;
    let mut ifi = Iface::default();
    for a in attrs {
        let a = a?;
        match a.ty {
            ATTR_IFINDEX => ifi.index = u32_of(a.data)?,
            ATTR_IFNAME => ifi.name = trim_nul(a.data),
            ATTR_MAC => ifi.mac = Some(a.data),
            ATTR_WIPHY_FREQ => ifi.frequency = i64::from(u32_of(a.data)?),
            ATTR_WIPHY | ATTR_IFTYPE => drop(u32_of(a.data)?),
            ATTR_WDEV => drop(u64_of(a.data)?),
            _ => {}
        }
    }
    Ok(ifi)
}

fn u16_of(b: &[u8]) -> Result<u16, netlink::Error> {
    ne_u16(b, 0).ok_or(netlink::Error::Malformed("nl80211 u16 attribute cut short"))
}

fn u32_of(b: &[u8]) -> Result<u32, netlink::Error> {
    ne_u32(b, 0).ok_or(netlink::Error::Malformed("nl80211 u32 attribute cut short"))
}

fn u64_of(b: &[u8]) -> Result<u64, netlink::Error> {
    ne_u64(b, 0).ok_or(netlink::Error::Malformed("nl80211 u64 attribute cut short"))
}

/// The first BSS of a `NL80211_CMD_GET_SCAN` dump that carries a status, its SSID decoded into
/// `ssid`; `None` when there is none.
///
/// # Errors
/// Attributes or information elements not framed right, or an integer attribute cut short.
pub fn find_bss<'a>(
    msgs: Messages<'a>,
    ssid: &'a mut Vec<u8>,
) -> Result<Option<Bss<'a>>, netlink::Error> {
    for msg in msgs {
        let (_, attrs) = msg.split(GENLMSGHDR_LEN)?;
        for a in attrs {
            let a = a?;
            if a.ty != ATTR_BSS {
                continue;
            }
            let nested = a.nested();
            nested.check()?;
            if nested.find(BSS_STATUS)?.is_none() {
                continue;
            }
            let mut bss = Bss::default();
            ssid.clear();
            for b in nested {
                let b = b?;
                match b.ty {
                    BSS_BSSID => bss.bssid = b.data,
                    BSS_STATUS => bss.status = i64::from(u32_of(b.data)?),
                    BSS_FREQUENCY | BSS_SEEN_MS_AGO => drop(u32_of(b.data)?),
                    BSS_BEACON_INTERVAL => drop(u16_of(b.data)?),
                    BSS_INFORMATION_ELEMENTS => decode_ssid(b.data, ssid)?,
                    _ => {}
                }
            }
            return Ok(Some(Bss { ssid: &ssid[..], ..bss }));
        }
    }
    Ok(None)
}

/// Walks 802.11 information elements (id, length, data), writing the last SSID element's text
/// into `ssid` with each byte that is not valid UTF-8 replaced by U+FFFD, as Go decodes it rune
/// by rune.
///
/// # Errors
/// An element cut short.
fn decode_ssid(mut ies: &[u8], ssid: &mut Vec<u8>) -> Result<(), netlink::Error> {
    let bad = netlink::Error::Malformed("invalid 802.11 information element");
    while !ies.is_empty() {
        let [id, len, rest @ ..] = ies else { return Err(bad) };
        let data = rest.get(..usize::from(*len)).ok_or(bad)?;
        if *id == IE_SSID {
            ssid.clear();
            for chunk in data.utf8_chunks() {
                ssid.extend_from_slice(chunk.valid().as_bytes());
                for _ in chunk.invalid() {
                    ssid.extend_from_slice("\u{fffd}".as_bytes());
                }
            }
        }
        ies = &rest[usize::from(*len)..];
    }
    Ok(())
}

/// Whether the stations of a `NL80211_CMD_GET_STATION` dump are reported: not when there are
/// none, nor when a message lacks station info (the library then says there is no such data
/// and upstream skips the interface's stations). Checks the messages up to there.
///
/// # Errors
/// The first message, before any without station info, that does not parse.
pub fn check_stations(msgs: Messages<'_>) -> Result<bool, netlink::Error> {
    let mut any = false;
    for msg in msgs {
        if parse_station(msg.payload)?.is_none() {
            return Ok(false);
        }
        any = true;
    }
    Ok(any)
}

/// Reads one station: `NL80211_ATTR_MAC` and the `NL80211_ATTR_STA_INFO` nest, read as the
/// library reads them (the 32-bit byte counters only while the 64-bit ones have not given a
/// value, bitrates in units of 100 kbit/s, the 32-bit one preferred). `None` without station
/// info.
///
/// # Errors
/// Attributes not framed right, or an integer attribute cut short.
pub fn parse_station(payload: &[u8]) -> Result<Option<Station<'_>>, netlink::Error> {
    let (_, attrs) = netlink::Message { ty: 0, flags: 0, payload }.split(GENLMSGHDR_LEN)?;
    attrs.check()?;
    let mut st = Station::default();
    for a in attrs {
        let a = a?;
        match a.ty {
            ATTR_MAC => st.mac = a.data,
            ATTR_STA_INFO => {
                let info = a.nested();
                info.check()?;
                for s in info {
                    let s = s?;
                    let d = s.data;
                    match s.ty {
                        STA_CONNECTED_TIME => st.connected = i64::from(u32_of(d)?) * 1_000_000_000,
                        STA_INACTIVE_TIME => st.inactive = i64::from(u32_of(d)?) * 1_000_000,
                        STA_RX_BYTES64 => st.rx_bytes = u64_of(d)? as i64,
                        STA_TX_BYTES64 => st.tx_bytes = u64_of(d)? as i64,
                        STA_SIGNAL => {
                            let b = d.first().ok_or(netlink::Error::Malformed("empty signal"))?;
                            st.signal = i64::from(*b as i8);
                        }
                        STA_RX_PACKETS | STA_TX_PACKETS => drop(u32_of(d)?),
                        STA_TX_RETRIES => st.tx_retries = i64::from(u32_of(d)?),
                        STA_TX_FAILED => st.tx_failed = i64::from(u32_of(d)?),
                        STA_BEACON_LOSS => st.beacon_loss = i64::from(u32_of(d)?),
                        STA_RX_BITRATE => st.rx_bitrate = bitrate(s.nested())?,
                        STA_TX_BITRATE => st.tx_bitrate = bitrate(s.nested())?,
                        _ => {}
                    }
                    if st.rx_bytes == 0 && s.ty == STA_RX_BYTES {
                        st.rx_bytes = i64::from(u32_of(d)?);
                    }
                    if st.tx_bytes == 0 && s.ty == STA_TX_BYTES {
                        st.tx_bytes = i64::from(u32_of(d)?);
                    }
                }
                return Ok(Some(st));
            }
            _ => {}
        }
    }
    Ok(None)
}

/// A rate info nest's bitrate in bit/s.
fn bitrate(attrs: Attrs<'_>) -> Result<i64, netlink::Error> {
    attrs.check()?;
    let mut rate = 0i64;
    for a in attrs {
        let a = a?;
        if a.ty == RATE_BITRATE32 {
            rate = i64::from(u32_of(a.data)?);
        }
        if rate == 0 && a.ty == RATE_BITRATE {
            rate = i64::from(u16_of(a.data)?);
        }
    }
    Ok(rate * 100 * 1000)
}

impl Fixture {
    fn update(
        &mut self,
        enc: &mut Encoder,
        fams: &Families,
        text: &mut Vec<u8>,
    ) -> Result<(), Error> {
        let Fixture { dir, path, ifaces, bss, stations } = self;
        read(dir, path, &[b"interfaces.json"], ifaces).map_err(Error::read(FIXTURE_INTERFACES))?;
        let r = gojson::for_each(ifaces, |ifi: JsonIface<'_>| {
            let name = ifi.name.0.as_bytes();
            if name.is_empty() {
                return Ok(());
            }
            fams.frequency(enc, name, ifi.frequency);
            match read(dir, path, &[name, b"/bss.json"], bss) {
                Ok(()) => {
                    let b: JsonBss<'_> = gojson::parse_one(bss)
                        .map_err(|err| Error::Parse { path: FIXTURE_BSS, err })?;
                    let view =
                        Bss { bssid: &b.bssid.0, ssid: b.ssid.0.as_bytes(), status: b.status };
                    fams.bss(enc, name, &view, text);
                }
                Err(Errno::NOENT) => {}
                Err(e) => return Err(Error::read(FIXTURE_BSS)(e)),
            }
            match read(dir, path, &[name, b"/stationinfo.json"], stations) {
                Ok(()) => gojson::for_each(stations, |st: JsonStation| {
                    let view = Station { mac: &st.mac.0, ..st.values };
                    fams.station(enc, name, &view, text);
                    Ok::<(), Infallible>(())
                })
                .map_err(|e| match e {
                    JsonError::Json(err) => Error::Parse { path: FIXTURE_STATIONS, err },
                    JsonError::Stop(never) => match never {},
                }),
                Err(Errno::NOENT) => Ok(()),
                Err(e) => Err(Error::read(FIXTURE_STATIONS)(e)),
            }
        });
        r.map_err(|e| match e {
            JsonError::Json(err) => Error::Parse { path: FIXTURE_INTERFACES, err },
            JsonError::Stop(e) => e,
        })
    }
}

/// Reads the file `dir`/`parts...` into `buf`, building its path in `path`.
fn read(dir: &[u8], path: &mut Vec<u8>, parts: &[&[u8]], buf: &mut Vec<u8>) -> Result<(), Errno> {
    path.clear();
    path.extend_from_slice(dir);
    if !path.ends_with(b"/") {
        path.push(b'/');
    }
    parts.iter().for_each(|p| path.extend_from_slice(p));
    if path.contains(&0) {
        return Err(Errno::INVAL);
    }
    path.push(0);
    let c = CStr::from_bytes_with_nul(path).map_err(|_| Errno::INVAL)?;
    source::read_once(c, buf).map(drop)
}

/// The library's `Interface`, as the fixture holds it.
#[derive(Debug, Default)]
struct JsonIface<'a> {
    name: Str<'a>,
    frequency: i64,
}

impl<'de> GoStruct<'de> for JsonIface<'de> {
    const NULLABLE: bool = false;

    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<bool, A::Error> {
        let is = |name: &str| key.eq_ignore_ascii_case(name);
        let (mut int, mut bytes) = (0i64, Bytes::default());
        match () {
            _ if is("Name") => gojson::set(&mut self.name, map)?,
            _ if is("Frequency") => gojson::set(&mut self.frequency, map)?,
            // Fields not reported, read for their type checks.
            _ if ["Index", "PHY", "Device", "Type"].iter().any(|n| is(n)) => {
                gojson::set(&mut int, map)?
            }
            _ if is("HardwareAddr") => gojson::set(&mut bytes, map)?,
            _ => return Ok(false),
        }
        Ok(true)
    }
}

/// The library's `BSS`, as the fixture holds it.
#[derive(Debug, Default)]
struct JsonBss<'a> {
    ssid: Str<'a>,
    bssid: Bytes,
    status: i64,
}

impl<'de> GoStruct<'de> for JsonBss<'de> {
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<bool, A::Error> {
        let is = |name: &str| key.eq_ignore_ascii_case(name);
        let mut int = 0i64;
        match () {
            _ if is("SSID") => gojson::set(&mut self.ssid, map)?,
            _ if is("BSSID") => gojson::set(&mut self.bssid, map)?,
            _ if is("Status") => gojson::set(&mut self.status, map)?,
            _ if ["Frequency", "BeaconInterval", "LastSeen"].iter().any(|n| is(n)) => {
                gojson::set(&mut int, map)?
            }
            _ => return Ok(false),
        }
        Ok(true)
    }
}

/// The library's `StationInfo`, as the fixture holds it.
#[derive(Debug, Default)]
struct JsonStation {
    mac: Bytes,
    values: Station<'static>,
}

impl<'de> GoStruct<'de> for JsonStation {
    const NULLABLE: bool = false;

    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<bool, A::Error> {
        let is = |name: &str| key.eq_ignore_ascii_case(name);
        let v = &mut self.values;
        let mut packets = 0i64;
        match () {
            _ if is("HardwareAddr") => gojson::set(&mut self.mac, map)?,
            _ if is("Connected") => gojson::set(&mut v.connected, map)?,
            _ if is("Inactive") => gojson::set(&mut v.inactive, map)?,
            _ if is("ReceivedBytes") => gojson::set(&mut v.rx_bytes, map)?,
            _ if is("TransmittedBytes") => gojson::set(&mut v.tx_bytes, map)?,
            _ if is("ReceiveBitrate") => gojson::set(&mut v.rx_bitrate, map)?,
            _ if is("TransmitBitrate") => gojson::set(&mut v.tx_bitrate, map)?,
            _ if is("Signal") => gojson::set(&mut v.signal, map)?,
            _ if is("TransmitRetries") => gojson::set(&mut v.tx_retries, map)?,
            _ if is("TransmitFailed") => gojson::set(&mut v.tx_failed, map)?,
            _ if is("BeaconLoss") => gojson::set(&mut v.beacon_loss, map)?,
            _ if is("ReceivedPackets") || is("TransmittedPackets") => {
                gojson::set(&mut packets, map)?
            }
            _ => return Ok(false),
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testing::{
        assert_matches_e2e, build as build_spec, fixtures, put, scrape, tmpdir, try_scrape,
    };
    use crate::collector::Settings;
    use crate::netlink::testing::{attr, done, message};
    use crate::source::Paths;

    fn settings(dir: &str) -> Settings {
        let mut s = Settings::new();
        s.set(FIXTURES, dir);
        s
    }

    #[test]
    fn fixture_matches_upstream() {
        let Some(root) = fixtures() else { return };
        let dir = root.join("wifi").to_string_lossy().into_owned();
        let mut c = build_spec(&SPEC, &Paths::under(&root), &settings(&dir)).unwrap();
        for _ in 0..2 {
            assert_matches_e2e(&scrape(c.as_mut()));
        }
    }

    #[test]
    fn fixture_rules() {
        let root = tmpdir("wifi-json");
        let s = settings(&root.to_string_lossy());
        let mut c = build_spec(&SPEC, &Paths::default(), &s).unwrap();
        assert!(matches!(try_scrape(c.as_mut()), Err(Error::Read { .. })), "no interfaces.json");

        put(&root, "interfaces.json", r#"[{"name":"wlan0","frequency":5180},{"type":10}]"#);
        let text = scrape(c.as_mut());
        assert!(text.contains("node_wifi_interface_frequency_hertz{device=\"wlan0\"} 5.18e+09\n"));
        assert_eq!(text.matches("# TYPE").count(), 1, "no BSS, no stations: {text}");

        put(&root, "wlan0/bss.json", "null");
        put(
            &root,
            "wlan0/stationinfo.json",
            r#"[{"HardwareAddr":"AQIDBAUG","Signal":-40,
            "ReceivedBytes":9223372036854775807,"Connected":1500000000,"Inactive":1}]"#,
        );
        let text = scrape(c.as_mut());
        assert!(text.contains(
            "node_wifi_station_info{bssid=\"\",device=\"wlan0\",mode=\"client\",ssid=\"\"} 1\n"
        ));
        let mac = "{device=\"wlan0\",mac_address=\"01:02:03:04:05:06\"}";
        for (family, value) in [
            ("signal_dbm", "-40"),
            ("receive_bytes_total", "9.223372036854776e+18"),
            ("connected_seconds_total", "1.5"),
            ("inactive_seconds", "1e-09"),
        ] {
            let line = format!("node_wifi_station_{family}{mac} {value}");
            assert!(text.contains(&format!("{line}\n")), "{line} missing from\n{text}");
        }

        for (file, bad) in [
            ("interfaces.json", "[null]"),
            ("interfaces.json", r#"[{"name":"wlan0","frequency":"x"}]"#),
            ("interfaces.json", r#"[{"name":"wlan0","hardwareaddr":"!"}]"#),
            ("wlan0/bss.json", r#"{"status":1.5}"#),
            ("wlan0/bss.json", "[]"),
            ("wlan0/stationinfo.json", "[null]"),
            ("wlan0/stationinfo.json", r#"{"signal":1}"#),
        ] {
            let good = std::fs::read(root.join(file)).unwrap_or_default();
            put(&root, file, bad);
            assert!(matches!(try_scrape(c.as_mut()), Err(Error::Parse { .. })), "{file}: {bad}");
            std::fs::write(root.join(file), good).unwrap();
        }
        // A directory where a file should be is a read error, not "no data".
        std::fs::remove_file(root.join("wlan0/bss.json")).unwrap();
        std::fs::create_dir(root.join("wlan0/bss.json")).unwrap();
        assert!(matches!(try_scrape(c.as_mut()), Err(Error::Read { .. })));
        std::fs::remove_dir_all(&root).unwrap();
    }

    fn genl(attrs: &[(u16, Vec<u8>)]) -> Vec<u8> {
        let mut p = vec![0u8; GENLMSGHDR_LEN];
        for (ty, data) in attrs {
            attr(&mut p, *ty, data);
        }
        p
    }

    fn nest(attrs: &[(u16, Vec<u8>)]) -> Vec<u8> {
        genl(attrs).split_off(GENLMSGHDR_LEN)
    }

    #[test]
    fn interfaces() {
        let p = genl(&[
            (ATTR_IFINDEX, 3u32.to_ne_bytes().to_vec()),
            (ATTR_IFNAME, b"wlan0\0".to_vec()),
            (ATTR_MAC, vec![1, 2, 3, 4, 5, 6]),
            (ATTR_WIPHY_FREQ, 2412u32.to_ne_bytes().to_vec()),
            (ATTR_WDEV, 1u64.to_ne_bytes().to_vec()),
        ]);
        let ifi = parse_interface(&p).unwrap();
        assert_eq!(
            ifi,
            Iface { index: 3, name: b"wlan0", mac: Some(&[1, 2, 3, 4, 5, 6]), frequency: 2412 }
        );
        assert_eq!(parse_interface(&genl(&[])).unwrap(), Iface::default());
        for bad in [
            genl(&[(ATTR_WIPHY_FREQ, vec![1, 2])]),
            genl(&[(ATTR_WDEV, vec![1, 2, 3, 4])]),
            vec![0, 0],
            {
                let mut p = genl(&[]);
                p.extend_from_slice(&[8, 0, 3]);
                p
            },
        ] {
            assert!(parse_interface(&bad).is_err(), "{bad:?}");
        }
    }

    fn scan_msg(out: &mut Vec<u8>, bss: &[(u16, Vec<u8>)]) {
        message(out, 0x1c, 1, &genl(&[(ATTR_BSS, nest(bss))]));
    }

    #[test]
    fn bss_with_status() {
        let mut d = Vec::new();
        scan_msg(
            &mut d,
            &[(BSS_BSSID, vec![9; 6]), (BSS_INFORMATION_ELEMENTS, vec![0, 3, b'o', b't', b'h'])],
        );
        scan_msg(
            &mut d,
            &[
                (BSS_BSSID, vec![0, 0x11, 0x22, 0x33, 0x44, 0x55]),
                (BSS_FREQUENCY, 2412u32.to_ne_bytes().to_vec()),
                (BSS_BEACON_INTERVAL, 100u16.to_ne_bytes().to_vec()),
                // An unrelated element, then the SSID with an invalid byte.
                (BSS_INFORMATION_ELEMENTS, vec![1, 1, 0x82, 0, 4, b'c', 0xff, 0xe2, 0x82]),
                (BSS_STATUS, 2u32.to_ne_bytes().to_vec()),
            ],
        );
        done(&mut d, 1);
        let mut ssid = Vec::new();
        let bss = find_bss(Messages::new(&d), &mut ssid).unwrap().unwrap();
        assert_eq!(bss.bssid, [0, 0x11, 0x22, 0x33, 0x44, 0x55]);
        assert_eq!(bss.status, 2);
        assert_eq!(std::str::from_utf8(bss.ssid).unwrap(), "c\u{fffd}\u{fffd}\u{fffd}");

        let mut none = Vec::new();
        scan_msg(&mut none, &[(BSS_BSSID, vec![9; 6])]);
        assert_eq!(find_bss(Messages::new(&none), &mut ssid).unwrap(), None);
        for bss in [
            vec![(BSS_STATUS, vec![1, 0])],
            vec![(BSS_STATUS, vec![1, 0, 0, 0]), (BSS_INFORMATION_ELEMENTS, vec![0, 5, b'a'])],
            vec![(BSS_STATUS, vec![1, 0, 0, 0]), (BSS_INFORMATION_ELEMENTS, vec![0])],
        ] {
            let mut d = Vec::new();
            scan_msg(&mut d, &bss);
            assert!(find_bss(Messages::new(&d), &mut ssid).is_err(), "{bss:?}");
        }
    }

    fn rate(attrs: &[(u16, Vec<u8>)]) -> Vec<u8> {
        nest(attrs)
    }

    #[test]
    fn stations_as_the_library_reads_them() {
        let info = nest(&[
            (STA_RX_BYTES, 7u32.to_ne_bytes().to_vec()),
            (STA_RX_BYTES64, 70u64.to_ne_bytes().to_vec()),
            // 32-bit after 64-bit: the 64-bit value stands.
            (STA_TX_BYTES64, 0u64.to_ne_bytes().to_vec()),
            (STA_TX_BYTES, 8u32.to_ne_bytes().to_vec()),
            (STA_CONNECTED_TIME, 30u32.to_ne_bytes().to_vec()),
            (STA_INACTIVE_TIME, 400u32.to_ne_bytes().to_vec()),
            (STA_SIGNAL, vec![(-52i8) as u8]),
            (STA_TX_RETRIES, 10u32.to_ne_bytes().to_vec()),
            (STA_TX_FAILED, 2u32.to_ne_bytes().to_vec()),
            (STA_BEACON_LOSS, 1u32.to_ne_bytes().to_vec()),
            (STA_RX_BITRATE, rate(&[(RATE_BITRATE, 1280u16.to_ne_bytes().to_vec())])),
            (
                STA_TX_BITRATE,
                rate(&[
                    (RATE_BITRATE, 1u16.to_ne_bytes().to_vec()),
                    (RATE_BITRATE32, 1640u32.to_ne_bytes().to_vec()),
                ]),
            ),
        ]);
        let p =
            genl(&[(ATTR_MAC, vec![0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff]), (ATTR_STA_INFO, info)]);
        let st = parse_station(&p).unwrap().unwrap();
        assert_eq!(
            st,
            Station {
                mac: &[0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff],
                connected: 30_000_000_000,
                inactive: 400_000_000,
                rx_bytes: 70,
                tx_bytes: 8,
                rx_bitrate: 128_000_000,
                tx_bitrate: 164_000_000,
                signal: -52,
                tx_retries: 10,
                tx_failed: 2,
                beacon_loss: 1,
            }
        );
        let no_info = genl(&[(ATTR_MAC, vec![1; 6])]);
        assert_eq!(parse_station(&no_info).unwrap(), None);

        let mut d = Vec::new();
        message(&mut d, 0x1c, 1, &p);
        assert!(check_stations(Messages::new(&d)).unwrap());
        let mut empty = Vec::new();
        done(&mut empty, 1);
        assert!(!check_stations(Messages::new(&empty)).unwrap(), "no stations");
        // A station without info hides the interface's stations, whatever follows it.
        let mut hidden = Vec::new();
        message(&mut hidden, 0x1c, 1, &no_info);
        message(&mut hidden, 0x1c, 1, &genl(&[(ATTR_STA_INFO, vec![1, 2])]));
        assert!(!check_stations(Messages::new(&hidden)).unwrap());

        for bad in [
            nest(&[(STA_SIGNAL, vec![])]),
            nest(&[(STA_CONNECTED_TIME, vec![1])]),
            nest(&[(STA_RX_BYTES64, vec![1; 4])]),
            nest(&[(STA_RX_BITRATE, vec![8, 0, 5, 0, 1])]),
            nest(&[(STA_TX_BITRATE, rate(&[(RATE_BITRATE, vec![1])]))]),
            vec![40, 0, 1, 0],
        ] {
            let p = genl(&[(ATTR_STA_INFO, bad.clone())]);
            assert!(parse_station(&p).is_err(), "{bad:?}");
            let mut d = Vec::new();
            message(&mut d, 0x1c, 1, &p);
            assert!(check_stations(Messages::new(&d)).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn live_host() {
        let mut c = build_spec(&SPEC, &Paths::default(), &Settings::new()).unwrap();
        for _ in 0..2 {
            match try_scrape(c.as_mut()) {
                Ok(_) | Err(Error::NoData) => {}
                Err(e) => panic!("{e}"),
            }
        }
    }
}
