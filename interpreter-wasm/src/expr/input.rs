//! Expression inputs borrowed from the run's scopes, read by JSONata one level at a time, so
//! that an evaluation converts only what its expression reaches and nothing is cloned up front.

use jlens_core::input::{Sink, Source};
use serde_json::{Map, Value};

/// A borrowed JSON value: a whole value, an object held as its map, or one assembled from
/// borrowed parts (so a context such as `meta` merged with the run's identity is never built
/// as a new map for each evaluation).
#[derive(Debug, Clone, Copy)]
pub enum Node<'a> {
    /// A JSON value.
    Value(&'a Value),
    /// A JSON object given by its fields.
    Object(&'a Map<String, Value>),
    /// A string.
    Str(&'a str),
    /// A number.
    Number(f64),
    /// `null`.
    Null,
    /// An object assembled from borrowed fields, with the rule of [`Input::Fields`].
    Fields(&'a [(&'a str, Node<'a>)]),
}

/// What an expression is evaluated against.
#[derive(Debug, Clone, Copy)]
pub enum Input<'a> {
    /// No input (JSONata's undefined).
    Undefined,
    /// A JSON document.
    Json(&'a Value),
    /// An object assembled from borrowed fields, in order; a later field with the same name
    /// replaces an earlier one where the earlier one stood, as JavaScript's object spread does.
    Fields(&'a [(&'a str, Node<'a>)]),
}

/// The input document: written as the only value of its level.
pub(super) struct InputSource<'a>(pub Input<'a>);

impl<'a> Source<'a> for InputSource<'a> {
    fn read(&self, sink: &mut Sink<'_, 'a>) -> Result<(), String> {
        match self.0 {
            Input::Undefined => {}
            Input::Json(value) => write_value(value, sink),
            Input::Fields(fields) => sink.object(Fields(fields)),
        }
        Ok(())
    }
}

struct Fields<'a>(&'a [(&'a str, Node<'a>)]);

impl<'a> Source<'a> for Fields<'a> {
    fn read(&self, sink: &mut Sink<'_, 'a>) -> Result<(), String> {
        sink.reserve(self.0.len());
        for (key, node) in self.0 {
            sink.key(key);
            write_node(*node, sink);
        }
        Ok(())
    }

    fn read_field(&self, key: &str, sink: &mut Sink<'_, 'a>) -> Result<bool, String> {
        if let Some((_, node)) = self.0.iter().rev().find(|(k, _)| *k == key) {
            write_node(*node, sink);
        }
        Ok(true)
    }
}

struct ObjectSource<'a>(&'a Map<String, Value>);

impl<'a> Source<'a> for ObjectSource<'a> {
    fn read(&self, sink: &mut Sink<'_, 'a>) -> Result<(), String> {
        sink.reserve(self.0.len());
        for (key, value) in self.0 {
            sink.key(key);
            write_value(value, sink);
        }
        Ok(())
    }

    fn read_field(&self, key: &str, sink: &mut Sink<'_, 'a>) -> Result<bool, String> {
        if let Some(value) = self.0.get(key) {
            write_value(value, sink);
        }
        Ok(true)
    }
}

struct ArraySource<'a>(&'a [Value]);

impl<'a> Source<'a> for ArraySource<'a> {
    fn read(&self, sink: &mut Sink<'_, 'a>) -> Result<(), String> {
        sink.reserve(self.0.len());
        for value in self.0 {
            write_value(value, sink);
        }
        Ok(())
    }

    fn length(&self) -> Option<usize> {
        Some(self.0.len())
    }

    fn read_item(&self, index: usize, sink: &mut Sink<'_, 'a>) -> Result<bool, String> {
        if let Some(value) = self.0.get(index) {
            write_value(value, sink);
        }
        Ok(true)
    }
}

fn write_node<'a>(node: Node<'a>, sink: &mut Sink<'_, 'a>) {
    match node {
        Node::Value(value) => write_value(value, sink),
        Node::Object(map) => sink.object(ObjectSource(map)),
        Node::Str(text) => sink.string(text),
        Node::Number(number) => sink.number(number),
        Node::Null => sink.null(),
        Node::Fields(fields) => sink.object(Fields(fields)),
    }
}

fn write_value<'a>(value: &'a Value, sink: &mut Sink<'_, 'a>) {
    match value {
        Value::Null => sink.null(),
        Value::Bool(b) => sink.bool(*b),
        Value::Number(n) => sink.number(n.as_f64().unwrap_or(f64::NAN)),
        Value::String(s) => sink.string(s),
        Value::Array(items) => sink.array(ArraySource(items)),
        Value::Object(map) => sink.object(ObjectSource(map)),
    }
}
