//! Which user interaction continues the one before it.
//!
//! Some actions are several DOM events, fired one after another in the same task once the first
//! one's dispatch is over: clicking a submit button fires `submit` at its form (the button's
//! activation behaviour), and Enter in a form's text field fires `click` at the form's default
//! button and then `submit` (implicit submission). Each is an interaction span of its own (a
//! handler's requests are children of the event they ran for), and the later ones are children
//! of the earlier, so the action is one trace.
//!
//! The edge asks only for the interaction that ended last, before its 0 ms timer ran, and only
//! when the later event names it: a submit's submitter is the clicked control, a click the
//! browser made from the keyboard (`detail` 0) and a submit without a submitter are in the form
//! an Enter key press submits (`js/auto.js` reads those facts). An input event can run before
//! that timer (browsers favour input), so the names, not the timing, keep an unrelated event
//! from being given a parent this way.

#[allow(unused_imports)]
use crate::prelude::*;

/// True when a trusted `next` event (its DOM type) that names a `prev` one (see the module docs)
/// continues `prev`'s action.
///
/// ```
/// use canopy_web::instrument::interaction::continues;
/// assert!(continues("click", "submit")); // a submit button's click, then its form's submit
/// assert!(continues("keydown", "click")); // Enter in a text field clicks the default button
/// assert!(!continues("click", "click")); // two clicks are two actions
/// ```
pub fn continues(prev: &str, next: &str) -> bool {
    matches!((prev, next), ("click" | "keydown", "submit") | ("keydown", "click"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_browsers_own_follow_ups() {
        let kinds = ["click", "submit", "keydown", "input", "change", "pointerdown"];
        let mut yes = Vec::new();
        for p in kinds {
            for n in kinds {
                if continues(p, n) {
                    yes.push((p, n));
                }
            }
        }
        assert_eq!(yes, [("click", "submit"), ("keydown", "click"), ("keydown", "submit")]);
    }
}
