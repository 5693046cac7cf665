//! Messages: any `Send + 'static` value, carried in a box and taken out by type.

use std::any::{Any, TypeId};
use std::fmt;

/// What a [`Message`] holds: any `Send + 'static` value that can name its own type.
///
/// Every `Send + 'static` type implements this; you never implement it yourself.
pub trait Payload: Any + Send {
    /// The Rust type name of the value, used in error messages.
    fn type_name(&self) -> &'static str;
    /// The value as `&dyn Any`, for downcasting.
    fn as_any(&self) -> &dyn Any;
    /// The value as `&mut dyn Any`, for downcasting.
    fn as_any_mut(&mut self) -> &mut dyn Any;
    /// The boxed value as `Box<dyn Any + Send>`, for downcasting by value.
    fn into_any(self: Box<Self>) -> Box<dyn Any + Send>;
}

impl<T: Any + Send> Payload for T {
    fn type_name(&self) -> &'static str {
        std::any::type_name::<T>()
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
    fn into_any(self: Box<Self>) -> Box<dyn Any + Send> {
        self
    }
}

/// One message travelling between boxes.
///
/// Kamaelia lets any Python object travel through a box; here any `Send + 'static` value can.
/// A message is moved, never copied, from the box it was sent on to the final inbox of the
/// linkage chain, so a message crossing ten linkages is stored once.
///
/// ```
/// use axon::Message;
///
/// let m = Message::new(42u32);
/// assert!(m.is::<u32>());
/// assert_eq!(m.downcast_ref::<u32>(), Some(&42));
/// // Taking it out as the wrong type is an error that names both types
/// // and gives the message back.
/// let err = m.downcast::<String>().unwrap_err();
/// assert!(err.to_string().contains("u32"));
/// assert_eq!(err.into_message().downcast::<u32>().unwrap(), 42);
/// ```
pub struct Message(Box<dyn Payload>);

impl Message {
    /// Wraps a value. If the value is already a `Message`, it is returned as it is, not
    /// wrapped twice.
    pub fn new<T: Send + 'static>(value: T) -> Message {
        let mut slot = Some(value);
        if TypeId::of::<T>() == TypeId::of::<Message>() {
            let any: &mut dyn Any = &mut slot;
            if let Some(m) = any.downcast_mut::<Option<Message>>() {
                return m.take().expect("slot was filled just above");
            }
        }
        Message(Box::new(slot.take().expect("slot was filled just above")))
    }

    /// True if the message holds a `T`.
    pub fn is<T: 'static>(&self) -> bool {
        (*self.0).as_any().is::<T>()
    }

    /// The Rust type name of the value inside.
    pub fn type_name(&self) -> &'static str {
        (*self.0).type_name()
    }

    /// A reference to the value if it is a `T`.
    pub fn downcast_ref<T: 'static>(&self) -> Option<&T> {
        (*self.0).as_any().downcast_ref::<T>()
    }

    /// A mutable reference to the value if it is a `T`.
    pub fn downcast_mut<T: 'static>(&mut self) -> Option<&mut T> {
        (*self.0).as_any_mut().downcast_mut::<T>()
    }

    /// Takes the value out as a `T`; on the wrong type the error gives the message back.
    pub fn downcast<T: 'static>(self) -> Result<T, WrongType> {
        if self.is::<T>() {
            match self.0.into_any().downcast::<T>() {
                Ok(b) => Ok(*b),
                Err(_) => unreachable!("type checked just above"),
            }
        } else {
            Err(WrongType {
                expected: std::any::type_name::<T>(),
                message: self,
            })
        }
    }
}

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Message<{}>", self.type_name())
    }
}

/// A message was taken out as a type it does not hold.
///
/// Returned by [`Message::downcast`] and by the typed receive calls; the message is handed back
/// unharmed by [`WrongType::into_message`].
pub struct WrongType {
    /// The type that was asked for.
    pub expected: &'static str,
    message: Message,
}

impl WrongType {
    /// The type the message really holds.
    pub fn found(&self) -> &'static str {
        self.message.type_name()
    }
    /// Gives back the message that could not be taken out.
    pub fn into_message(self) -> Message {
        self.message
    }
}

impl fmt::Debug for WrongType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "WrongType {{ expected: {}, found: {} }}",
            self.expected,
            self.found()
        )
    }
}

impl fmt::Display for WrongType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "message holds a {}, not the {} that was asked for",
            self.found(),
            self.expected
        )
    }
}

impl std::error::Error for WrongType {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_of_message_is_not_wrapped_twice() {
        let inner = Message::new(String::from("x"));
        let outer = Message::new(inner);
        assert_eq!(outer.downcast::<String>().unwrap(), "x");
    }

    #[test]
    fn downcast_mut_changes_value() {
        let mut m = Message::new(1i64);
        *m.downcast_mut::<i64>().unwrap() += 1;
        assert_eq!(m.downcast::<i64>().unwrap(), 2);
    }
}
