//! Messages: any `Send + 'static` value, carried in a box and taken out by type.

use std::any::{Any, TypeId};
use std::cell::UnsafeCell;
use std::fmt;
use std::mem::{align_of, size_of, MaybeUninit};

/// One message travelling between boxes.
///
/// Kamaelia lets any Python object travel through a box; here any `Send + 'static` value can.
/// A message is moved, never copied, from the box it was sent on to the final inbox of the
/// linkage chain, so a message crossing ten linkages is stored once. A message is two words:
/// a value that fits in one word (a number, a `bool`, a `Box`, an `Arc`, ...) is carried in
/// the message itself, anything bigger is put on the heap once, when the message is made.
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
pub struct Message {
    /// What the value is, and how to drop it.
    kind: &'static Kind,
    /// The value itself if [`fits_inline`] for its type, else the pointer to its heap box.
    /// `MaybeUninit` of a pointer: a word that may hold any bytes, pointers included; in an
    /// `UnsafeCell` because a value held inline may have interior mutability (a `Cell`, an
    /// atomic) and be changed through `&Message`.
    data: UnsafeCell<MaybeUninit<*mut ()>>,
}

// SAFETY: a message only ever holds a value of a `Send` type (`Message::new` requires it),
// inline or in a box that it alone owns.
unsafe impl Send for Message {}

/// The type-specific part of a message: one `static` per value type.
struct Kind {
    type_id: fn() -> TypeId,
    type_name: fn() -> &'static str,
    /// Drops the value held in `data`.
    drop: unsafe fn(&mut MaybeUninit<*mut ()>),
}

/// True if a `T` is carried inside the message rather than on the heap.
const fn fits_inline<T>() -> bool {
    size_of::<T>() <= size_of::<*mut ()>() && align_of::<T>() <= align_of::<*mut ()>()
}

/// SAFETY: `data` holds a `T` as `Message::new::<T>` stored it, and is not used afterwards.
unsafe fn drop_value<T>(data: &mut MaybeUninit<*mut ()>) {
    if fits_inline::<T>() {
        std::ptr::drop_in_place(data.as_mut_ptr().cast::<T>());
    } else {
        drop(Box::from_raw(data.assume_init().cast::<T>()));
    }
}

struct KindOf<T>(std::marker::PhantomData<T>);

impl<T: Send + 'static> KindOf<T> {
    const KIND: Kind = Kind {
        type_id: TypeId::of::<T>,
        type_name: std::any::type_name::<T>,
        drop: drop_value::<T>,
    };
}

impl Drop for Message {
    fn drop(&mut self) {
        // SAFETY: `kind` was made for the type stored in `data`, which is still there (values
        // taken out by `downcast` skip this drop).
        unsafe { (self.kind.drop)(self.data.get_mut()) }
    }
}

impl Message {
    /// Wraps a value. If the value is already a `Message`, it is returned as it is, not
    /// wrapped twice.
    #[inline(always)]
    pub fn new<T: Send + 'static>(value: T) -> Message {
        if TypeId::of::<T>() == TypeId::of::<Message>() {
            let mut slot = Some(value);
            let any: &mut dyn Any = &mut slot;
            if let Some(m) = any.downcast_mut::<Option<Message>>() {
                return m.take().expect("slot was filled just above");
            }
            return Message::wrap(slot.take().expect("slot was filled just above"));
        }
        Message::wrap(value)
    }

    #[inline(always)]
    fn wrap<T: Send + 'static>(value: T) -> Message {
        let mut data = MaybeUninit::<*mut ()>::uninit();
        if fits_inline::<T>() {
            // SAFETY: a `T` fits in the word, size and alignment (checked just above).
            unsafe { data.as_mut_ptr().cast::<T>().write(value) };
        } else {
            data.write(Box::into_raw(Box::new(value)).cast::<()>());
        }
        Message {
            kind: &KindOf::<T>::KIND,
            data: UnsafeCell::new(data),
        }
    }

    /// Where the value is, for shared use; only for the `T` it holds.
    #[inline(always)]
    fn value_ptr<T: 'static>(&self) -> *const T {
        debug_assert!(self.is::<T>());
        if fits_inline::<T>() {
            self.data.get().cast::<T>()
        } else {
            // SAFETY: a boxed value's pointer was written by `wrap` and is only read here.
            unsafe { (*self.data.get()).assume_init() }.cast::<T>()
        }
    }

    /// Where the value is, for exclusive use; only for the `T` it holds.
    #[inline(always)]
    fn value_ptr_mut<T: 'static>(&mut self) -> *mut T {
        debug_assert!(self.is::<T>());
        if fits_inline::<T>() {
            self.data.get_mut().as_mut_ptr().cast::<T>()
        } else {
            // SAFETY: as in `value_ptr`.
            unsafe { self.data.get_mut().assume_init() }.cast::<T>()
        }
    }

    /// True if the message holds a `T`.
    #[inline]
    pub fn is<T: 'static>(&self) -> bool {
        (self.kind.type_id)() == TypeId::of::<T>()
    }

    /// The Rust type name of the value inside.
    pub fn type_name(&self) -> &'static str {
        (self.kind.type_name)()
    }

    /// A reference to the value if it is a `T`.
    pub fn downcast_ref<T: 'static>(&self) -> Option<&T> {
        // SAFETY: the message holds a `T` at `value_ptr`, borrowed as long as `self`.
        self.is::<T>().then(|| unsafe { &*self.value_ptr::<T>() })
    }

    /// A mutable reference to the value if it is a `T`.
    pub fn downcast_mut<T: 'static>(&mut self) -> Option<&mut T> {
        // SAFETY: as in `downcast_ref`, borrowed mutably as long as `self` is.
        self.is::<T>()
            .then(|| unsafe { &mut *self.value_ptr_mut::<T>() })
    }

    /// Takes the value out as a `T`; on the wrong type the error gives the message back.
    pub fn downcast<T: 'static>(self) -> Result<T, WrongType> {
        if !self.is::<T>() {
            return Err(WrongType {
                expected: std::any::type_name::<T>(),
                message: self,
            });
        }
        let me = std::mem::ManuallyDrop::new(self);
        // SAFETY: the message holds a `T`; it is moved out exactly once, and the message's own
        // drop (which would drop it again) never runs.
        Ok(unsafe {
            if fits_inline::<T>() {
                me.value_ptr::<T>().read()
            } else {
                *Box::from_raw(me.value_ptr::<T>().cast_mut())
            }
        })
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

    /// Counts its drops, to show that every value is dropped exactly once.
    struct Counted<const N: usize>(std::sync::Arc<std::sync::atomic::AtomicUsize>, [u8; N]);

    impl<const N: usize> Drop for Counted<N> {
        fn drop(&mut self) {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    }

    fn drops_once<const N: usize>() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let drops = std::sync::Arc::new(AtomicUsize::new(0));
        let made = || Counted::<N>(drops.clone(), [7; N]);
        // Dropped with the message.
        drop(Message::new(made()));
        assert_eq!(drops.load(Ordering::SeqCst), 1);
        // Taken out: dropped once, by its new owner.
        let v = Message::new(made()).downcast::<Counted<N>>().ok().unwrap();
        assert_eq!(v.1, [7; N]);
        assert_eq!(drops.load(Ordering::SeqCst), 1);
        drop(v);
        assert_eq!(drops.load(Ordering::SeqCst), 2);
        // The wrong type: given back whole, dropped once later.
        let back = Message::new(made()).downcast::<u8>().unwrap_err();
        assert_eq!(drops.load(Ordering::SeqCst), 2);
        let mut m = back.into_message();
        m.downcast_mut::<Counted<N>>().unwrap().1 = [9; N];
        assert_eq!(m.downcast_ref::<Counted<N>>().unwrap().1, [9; N]);
        drop(m);
        assert_eq!(drops.load(Ordering::SeqCst), 3);
    }

    #[test]
    fn values_inline_and_boxed_are_dropped_exactly_once() {
        // An Arc alone is one word (inline); with 64 more bytes it goes to the heap.
        assert!(fits_inline::<Counted<0>>());
        assert!(!fits_inline::<Counted<64>>());
        drops_once::<0>();
        drops_once::<64>();
    }

    #[test]
    fn every_kind_of_value_comes_back_as_it_went_in() {
        assert_eq!(std::mem::size_of::<Message>(), 16);
        assert_eq!(std::mem::size_of::<Option<Message>>(), 16);
        let mut m = Message::new(7u8);
        assert!(m.is::<u8>() && !m.is::<u16>());
        assert_eq!(m.type_name(), "u8");
        *m.downcast_mut::<u8>().unwrap() += 1;
        assert_eq!(m.downcast::<u8>().unwrap(), 8);
        Message::new(()).downcast::<()>().unwrap();
        assert_eq!(Message::new(-1.5f64).downcast::<f64>().unwrap(), -1.5);
        assert_eq!(
            Message::new(u128::MAX).downcast::<u128>().unwrap(),
            u128::MAX
        );
        assert_eq!(
            Message::new(Box::new(3u16)).downcast::<Box<u16>>().unwrap(),
            Box::new(3)
        );
        assert_eq!(
            Message::new(vec![1u8, 2]).downcast::<Vec<u8>>().unwrap(),
            [1, 2]
        );
        let s = Message::new(String::from("boxed"));
        assert_eq!(s.type_name(), "alloc::string::String");
        assert_eq!(
            s.downcast_ref::<String>().map(String::as_str),
            Some("boxed")
        );
        assert_eq!(Message::new(s).downcast::<String>().unwrap(), "boxed");
        // Messages cross threads.
        let m = Message::new(std::sync::Arc::new(5u32));
        let back = std::thread::spawn(move || m).join().unwrap();
        assert_eq!(*back.downcast::<std::sync::Arc<u32>>().unwrap(), 5);
    }

    #[test]
    fn values_with_interior_mutability_change_through_a_shared_reference() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let m = Message::new(std::cell::Cell::new(1u32));
        m.downcast_ref::<std::cell::Cell<u32>>().unwrap().set(2);
        assert_eq!(m.downcast::<std::cell::Cell<u32>>().unwrap().get(), 2);
        let m = Message::new(AtomicUsize::new(0));
        m.downcast_ref::<AtomicUsize>()
            .unwrap()
            .fetch_add(1, Ordering::Relaxed);
        assert_eq!(m.downcast::<AtomicUsize>().unwrap().into_inner(), 1);
    }

    #[test]
    fn downcast_mut_changes_value() {
        let mut m = Message::new(1i64);
        *m.downcast_mut::<i64>().unwrap() += 1;
        assert_eq!(m.downcast::<i64>().unwrap(), 2);
    }
}
