// Value-test harness for Rust, the crate root (main.rs) of the run, once per case (the case
// number is the first argument). The student's file is included into the module `gv_student`
// together with the calls the grader writes, so private functions are reachable; each argument
// is a `Gv` literal converted to the parameter's type by inference (`FromGv`). The returned
// value is reported through `ToGv` as one record on stdout, on a line of its own:
// "\x1evalue <tagged JSON>" or "\x1eraised <JSON string>" for a panic. It decides nothing: the
// server compares the value with the expected one, which is not here.
#![allow(dead_code, unused_imports, unused_macros)]

use std::collections::{BTreeMap, HashMap};
use std::io::Write;

// @@MODULES@@

pub enum Gv {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(&'static str),
    List(Vec<Gv>),
    Dict(Vec<(&'static str, Gv)>),
    Text(String),
    Pairs(Vec<(Gv, Gv)>),
    Other(String),
}

fn gv_bad(what: &str) -> ! {
    panic!("the test's argument does not fit the parameter: {}", what)
}

pub trait FromGv: Sized {
    fn from_gv(v: Gv) -> Self;
}

macro_rules! gv_ints {
    ($($t:ty),*) => {$(
        impl FromGv for $t {
            fn from_gv(v: Gv) -> Self {
                match v {
                    Gv::Int(n) => <$t>::try_from(n).unwrap_or_else(|_| gv_bad("integer out of range")),
                    _ => gv_bad("expected an integer"),
                }
            }
        }
        impl ToGv for $t {
            fn to_gv(&self) -> Gv { Gv::Int(*self as i128) }
        }
    )*};
}
gv_ints!(i8, i16, i32, i64, i128, isize, u8, u16, u32, u64, usize);

impl FromGv for f64 {
    fn from_gv(v: Gv) -> Self {
        match v {
            Gv::Float(x) => x,
            Gv::Int(n) => n as f64,
            _ => gv_bad("expected a number"),
        }
    }
}
impl FromGv for f32 {
    fn from_gv(v: Gv) -> Self { f64::from_gv(v) as f32 }
}
impl FromGv for bool {
    fn from_gv(v: Gv) -> Self {
        match v { Gv::Bool(b) => b, _ => gv_bad("expected a boolean") }
    }
}
impl FromGv for &'static str {
    fn from_gv(v: Gv) -> Self {
        match v { Gv::Str(s) => s, _ => gv_bad("expected a string") }
    }
}
impl FromGv for String {
    fn from_gv(v: Gv) -> Self { <&'static str>::from_gv(v).to_string() }
}
impl FromGv for char {
    fn from_gv(v: Gv) -> Self {
        let s = <&'static str>::from_gv(v);
        let mut chars = s.chars();
        match (chars.next(), chars.next()) { (Some(c), None) => c, _ => gv_bad("expected one character") }
    }
}
impl<T: FromGv> FromGv for Vec<T> {
    fn from_gv(v: Gv) -> Self {
        match v { Gv::List(items) => items.into_iter().map(T::from_gv).collect(), _ => gv_bad("expected a list") }
    }
}
impl<T: FromGv> FromGv for &'static [T] {
    fn from_gv(v: Gv) -> Self { Box::leak(Vec::<T>::from_gv(v).into_boxed_slice()) }
}
impl<T: FromGv> FromGv for &'static Vec<T> {
    fn from_gv(v: Gv) -> Self { Box::leak(Box::new(Vec::<T>::from_gv(v))) }
}
impl<T: FromGv> FromGv for Option<T> {
    fn from_gv(v: Gv) -> Self {
        match v { Gv::Null => None, other => Some(T::from_gv(other)) }
    }
}
impl<T: FromGv> FromGv for HashMap<String, T> {
    fn from_gv(v: Gv) -> Self {
        match v {
            Gv::Dict(pairs) => pairs.into_iter().map(|(k, v)| (k.to_string(), T::from_gv(v))).collect(),
            _ => gv_bad("expected a table"),
        }
    }
}
impl<T: FromGv> FromGv for BTreeMap<String, T> {
    fn from_gv(v: Gv) -> Self { HashMap::<String, T>::from_gv(v).into_iter().collect() }
}

pub trait ToGv {
    fn to_gv(&self) -> Gv;
}
impl ToGv for f64 {
    fn to_gv(&self) -> Gv { Gv::Float(*self) }
}
impl ToGv for f32 {
    fn to_gv(&self) -> Gv { Gv::Float(*self as f64) }
}
impl ToGv for bool {
    fn to_gv(&self) -> Gv { Gv::Bool(*self) }
}
impl ToGv for () {
    fn to_gv(&self) -> Gv { Gv::Null }
}
impl ToGv for char {
    fn to_gv(&self) -> Gv { Gv::Text(self.to_string()) }
}
impl ToGv for str {
    fn to_gv(&self) -> Gv { Gv::Text(self.to_string()) }
}
impl ToGv for String {
    fn to_gv(&self) -> Gv { self.as_str().to_gv() }
}
impl<T: ToGv + ?Sized> ToGv for &T {
    fn to_gv(&self) -> Gv { (**self).to_gv() }
}
impl<T: ToGv + ?Sized> ToGv for Box<T> {
    fn to_gv(&self) -> Gv { (**self).to_gv() }
}
impl<T: ToGv> ToGv for [T] {
    fn to_gv(&self) -> Gv { Gv::List(self.iter().map(|x| x.to_gv()).collect()) }
}
impl<T: ToGv, const N: usize> ToGv for [T; N] {
    fn to_gv(&self) -> Gv { self[..].to_gv() }
}
impl<T: ToGv> ToGv for Vec<T> {
    fn to_gv(&self) -> Gv { self[..].to_gv() }
}
impl<T: ToGv> ToGv for Option<T> {
    fn to_gv(&self) -> Gv {
        match self { Some(x) => x.to_gv(), None => Gv::Null }
    }
}
impl<K: ToGv, V: ToGv> ToGv for HashMap<K, V> {
    fn to_gv(&self) -> Gv { gv_pairs(self.iter()) }
}
impl<K: ToGv, V: ToGv> ToGv for BTreeMap<K, V> {
    fn to_gv(&self) -> Gv { gv_pairs(self.iter()) }
}
impl<A: ToGv, B: ToGv> ToGv for (A, B) {
    fn to_gv(&self) -> Gv { Gv::List(vec![self.0.to_gv(), self.1.to_gv()]) }
}

fn gv_pairs<'a, K: ToGv + 'a, V: ToGv + 'a>(items: impl Iterator<Item = (&'a K, &'a V)>) -> Gv {
    Gv::Pairs(items.map(|(k, v)| (k.to_gv(), v.to_gv())).collect())
}

fn gv_string(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn gv_json(v: &Gv) -> String {
    match v {
        Gv::Null => String::from("{\"t\": \"null\"}"),
        Gv::Bool(b) => format!("{{\"t\": \"bool\", \"v\": {}}}", b),
        Gv::Int(n) => format!("{{\"t\": \"int\", \"v\": \"{}\"}}", n),
        Gv::Float(x) => format!("{{\"t\": \"float\", \"v\": \"{:?}\"}}", x),
        Gv::Str(s) => format!("{{\"t\": \"str\", \"v\": {}}}", gv_string(s)),
        Gv::List(items) => {
            let parts: Vec<String> = items.iter().map(gv_json).collect();
            format!("{{\"t\": \"list\", \"v\": [{}]}}", parts.join(", "))
        }
        Gv::Dict(pairs) => {
            let parts: Vec<String> = pairs
                .iter()
                .map(|(k, v)| format!("[{}, {}]", gv_json(&Gv::Str(k)), gv_json(v)))
                .collect();
            format!("{{\"t\": \"dict\", \"v\": [{}]}}", parts.join(", "))
        }
        Gv::Text(text) => format!("{{\"t\": \"str\", \"v\": {}}}", gv_string(text)),
        Gv::Pairs(pairs) => {
            let parts: Vec<String> =
                pairs.iter().map(|(k, v)| format!("[{}, {}]", gv_json(k), gv_json(v))).collect();
            format!("{{\"t\": \"dict\", \"v\": [{}]}}", parts.join(", "))
        }
        Gv::Other(text) => format!("{{\"t\": \"other\", \"v\": {}}}", gv_string(text)),
    }
}

fn gv_emit(kind: &str, json: &str) {
    let _ = std::io::stdout().flush();
    let line = format!("\n\u{1e}{} {}\n", kind, json);
    let _ = std::io::stdout().write_all(line.as_bytes());
    let _ = std::io::stdout().flush();
}

// @@STUDENT@@

fn main() {
    let case: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(usize::MAX);
    std::panic::set_hook(Box::new(|info| {
        gv_emit("raised", &gv_string(&info.to_string()));
        std::process::exit(0);
    }));
    let value = gv_dispatch(case);
    gv_emit("value", &gv_json(&value));
}
