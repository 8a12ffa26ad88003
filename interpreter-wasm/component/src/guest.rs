//! The component's exports, and the bindings wit-bindgen generates for them.

use std::cell::RefCell;

use alga_interpreter::Machine;
use alga_interpreter::expr::{EvalEnv, Evaluator};
use alga_interpreter::validate::{KnownAction, validate};

wit_bindgen::generate!({
    world: "interpreter",
    path: "../../wit",
});

use crate::guest::exports::alga::workflow::expressions::{self, EvalOptions, ExpressionError};
use crate::guest::exports::alga::workflow::runtime;

thread_local! {
    static MACHINE: RefCell<Machine> = RefCell::new(Machine::new());
}

struct Component;

impl runtime::Guest for Component {
    fn runtime_semantics_version() -> String {
        alga_interpreter::RUNTIME_SEMANTICS_VERSION.to_owned()
    }

    fn activate(activation: alga::workflow::types::Activation) -> Result<(), String> {
        let activation = crate::convert::activation(activation)?;
        let commands = MACHINE
            .with(|machine| machine.borrow_mut().activate(activation))
            .map_err(|e| e.to_string())?;
        for command in commands {
            crate::convert::send(command);
        }
        Ok(())
    }

    fn validate(
        definition: String,
        known_actions: Option<Vec<alga::workflow::types::ActionRef>>,
    ) -> Vec<alga::workflow::types::ValidationIssue> {
        let value = match serde_json::from_str(&definition) {
            Ok(value) => value,
            Err(e) => {
                return vec![alga::workflow::types::ValidationIssue {
                    severity: alga::workflow::types::Severity::Error,
                    code: "INVALID_WORKFLOW_DEFINITION".into(),
                    path: String::new(),
                    message: format!("the definition is not JSON: {e}"),
                }];
            }
        };
        let known: Option<Vec<KnownAction>> = known_actions.map(|list| {
            list.into_iter()
                .map(|a| KnownAction {
                    id: a.action_id,
                    version: a.action_version,
                })
                .collect()
        });
        validate(&value, known.as_deref())
            .into_iter()
            .map(crate::convert::issue)
            .collect()
    }
}

impl expressions::Guest for Component {
    fn evaluate(
        source: String,
        input: Option<String>,
        bindings: String,
        options: EvalOptions,
    ) -> Result<Option<String>, ExpressionError> {
        let bad = |what: &str, e: serde_json::Error| ExpressionError {
            code: "ALGA_BAD_ARGUMENT".into(),
            message: format!("{what} is not JSON: {e}"),
        };
        let input: Option<serde_json::Value> = input
            .map(|text| serde_json::from_str(&text).map_err(|e| bad("input", e)))
            .transpose()?;
        let bindings: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&bindings).map_err(|e| bad("bindings", e))?;
        let to_wit = |e: alga_interpreter::expr::ExprError| ExpressionError {
            code: e.code,
            message: e.message,
        };
        let env = EvalEnv {
            now_ms: options.now_ms,
            workflow_functions: options.workflow_rules,
            max_depth: options.max_depth.map(|d| d as usize),
        };
        let mut evaluator = Evaluator::default();
        let result = if options.workflow_rules {
            let context = input.unwrap_or(serde_json::Value::Null);
            evaluator
                .evaluate(&source, &context, options.now_ms)
                .map(Some)
                .map_err(to_wit)?
        } else {
            evaluator
                .evaluate_plain(&source, input.as_ref(), &bindings, &env)
                .map_err(to_wit)?
        };
        Ok(result.map(|v| v.to_string()))
    }
}

export!(Component);
