//! The independent judges: they read attributes back from pixels and never ask
//! a model. [`faces`] grades faces (pose, age, expression, eyeglasses);
//! [`scenes`] reads colour, shape, size and position of each object in a scene.

pub mod faces;
pub mod scenes;
