//! The [`Engine`] over `jlens-core`.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use jlens_core::{Bindings, Expression, HostFunction, NodeKind, Options};
use serde_json::{Map, Value};

use super::functions;
use super::input::{Input, InputSource};
use super::{
    ALLOWED_FUNCTIONS, Engine, EvalEnv, ExprError, MAX_BUILT_BYTES, MAX_DEPTH, MAX_STEPS, codes,
};

/// JSONata by `jlens-core` (pinned; see docs/jsonata.md).
pub struct JlensEngine {
    /// Workflow time for `nowIso()`, set before each evaluation.
    clock: Arc<AtomicI64>,
    /// The five workflow functions, built once.
    workflow: Bindings,
}

impl Default for JlensEngine {
    fn default() -> Self {
        let clock = Arc::new(AtomicI64::new(0));
        JlensEngine {
            workflow: workflow_functions(clock.clone()),
            clock,
        }
    }
}

fn from_jlens(err: jlens_core::Error) -> ExprError {
    ExprError {
        code: err.code().to_owned(),
        message: err.message(),
        position: err.position(),
    }
}

fn suggestion(name: &str) -> Option<&'static str> {
    match name {
        "count" | "length" => Some("len"),
        "string" => Some("toString"),
        "now" | "millis" => Some("nowIso"),
        "exists" => Some("coalesce"),
        _ => None,
    }
}

fn disallowed(name: &str) -> ExprError {
    let hint = suggestion(name)
        .map(|s| format!(" (did you mean {s}?)"))
        .unwrap_or_default();
    ExprError::new(
        codes::DISALLOWED_FUNCTION,
        format!("Expression uses disallowed function: {name}{hint}"),
    )
}

/// The callee of a call must be a statically named, allow-listed function.
fn check_callee(procedure: &jlens_core::Node) -> Result<(), ExprError> {
    match &procedure.kind {
        NodeKind::Variable { name } if ALLOWED_FUNCTIONS.contains(&name.as_str()) => Ok(()),
        NodeKind::Variable { name } => Err(disallowed(name)),
        NodeKind::Name { name } => Err(disallowed(name)),
        _ => Err(disallowed("<computed function>")),
    }
}

impl Engine for JlensEngine {
    type Compiled = Expression;

    fn compile(&self, source: &str) -> Result<Expression, ExprError> {
        Expression::compile(source).map_err(from_jlens)
    }

    fn check_rules(&self, compiled: &Expression) -> Result<(), ExprError> {
        let mut problem = None;
        compiled.ast().root.walk(&mut |node| {
            if problem.is_some() {
                return;
            }
            problem = match &node.kind {
                NodeKind::Lambda(def) if !def.thunk => Some(ExprError::new(
                    codes::LAMBDA,
                    "Expression uses a function definition (lambda), which is not allowed",
                )),
                NodeKind::Function { procedure, .. } | NodeKind::Partial { procedure, .. } => {
                    check_callee(procedure).err()
                }
                NodeKind::Apply { rhs, .. } => match &rhs.kind {
                    NodeKind::Function { .. } | NodeKind::Partial { .. } => None,
                    _ => check_callee(rhs).err(),
                },
                NodeKind::Transform(_) => Some(disallowed("transform operator |...|")),
                _ => None,
            };
        });
        problem.map_or(Ok(()), Err)
    }

    fn evaluate(
        &self,
        compiled: &Expression,
        input: Input<'_>,
        bindings: &Map<String, Value>,
        env: &EvalEnv,
    ) -> Result<Option<Value>, ExprError> {
        let options = Options::new()
            .now(env.now_ms)
            .seed(0)
            .max_steps(MAX_STEPS)
            .max_depth(env.max_depth.unwrap_or(MAX_DEPTH))
            .max_string_length(MAX_BUILT_BYTES)
            .max_result_size(MAX_BUILT_BYTES);
        let extra;
        let vars = if bindings.is_empty() && env.workflow_functions {
            self.clock.store(env.now_ms, Ordering::Relaxed);
            &self.workflow
        } else {
            extra = bindings
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect::<Bindings>();
            &extra
        };
        compiled
            .evaluate_source(&InputSource(input), vars, &options)
            .map_err(from_jlens)
    }
}

fn workflow_functions(clock: Arc<AtomicI64>) -> Bindings {
    let arg = |args: &[Option<Value>], i: usize| args.get(i).cloned().flatten();
    Bindings::new()
        .function(
            "nowIso",
            HostFunction::new(0, move |_, _| {
                let now_ms = clock.load(Ordering::Relaxed);
                Ok(Some(Value::String(functions::now_iso(now_ms))))
            })
            .without_input(),
        )
        .function(
            "coalesce",
            HostFunction::new(1, |args, _| Ok(Some(functions::coalesce(args)))).without_input(),
        )
        .function(
            "len",
            HostFunction::new(1, move |args, _| {
                Ok(Some(functions::len(arg(args, 0).as_ref())))
            })
            .without_input(),
        )
        .function(
            "toString",
            HostFunction::new(1, move |args, _| {
                Ok(Some(functions::to_string(arg(args, 0).as_ref())))
            })
            .without_input(),
        )
        .function(
            "append",
            HostFunction::new(2, move |args, _| {
                Ok(Some(functions::append(
                    arg(args, 0).as_ref(),
                    arg(args, 1).as_ref(),
                )))
            })
            .without_input(),
        )
}

#[cfg(test)]
mod tests {
    use serde_json::{Map, Value};

    use crate::expr::{EvalEnv, Evaluator, MAX_DEPTH};

    fn plain(source: &str) -> Result<Option<Value>, String> {
        let env = EvalEnv {
            now_ms: 0,
            workflow_functions: false,
            max_depth: None,
        };
        Evaluator::default()
            .evaluate_plain(source, None, &Map::new(), &env)
            .map_err(|e| e.code)
    }

    /// Found by the differential fuzz target: natively jlens allowed 50,000 levels and the
    /// component 500, so a deep recursion succeeded in one and failed in the other.
    #[test]
    fn recursion_fails_at_the_components_depth_on_every_target() {
        let recurse =
            |n: usize| format!("($f := function($n){{$n = 0 ? 0 : 1 + $f($n - 1)}}; $f({n}))");
        assert_eq!(
            plain(&recurse(MAX_DEPTH / 4)),
            Ok(Some(Value::from(MAX_DEPTH / 4)))
        );
        assert_eq!(plain(&recurse(MAX_DEPTH * 2)), Err("D1011".to_owned()));
    }

    /// A string too large for the component fails the expression, on every target.
    #[test]
    fn large_built_strings_fail_the_expression_on_every_target() {
        // Eight characters doubled n times: 8 * 2^n bytes.
        let doubled = |n: u32| {
            format!(
                "($d := function($s, $n){{$n = 0 ? $s : $d($s & $s, $n - 1)}}; $length($d('abcdefgh', {n})))"
            )
        };
        assert_eq!(plain(&doubled(7)), Ok(Some(Value::from(1024))));
        assert_eq!(plain(&doubled(22)), Err("U1001".to_owned()));
    }
}
