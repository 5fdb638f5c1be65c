// Every live object of a class, linked through the objects themselves: a
// class T that derives from Listed<T> is on the list from its constructor
// to its destructor, and Listed<T>::first()/next_listed() walk it. For
// kernel objects that a periodic pass or an identity check must find
// (timerfds for the timer, signalfds for signalfd4 on an fd). Not
// synchronised: the kernel lock covers every use.
#pragma once

namespace mote {

template <typename T>
class Listed {
 public:
  static T* first() { return static_cast<T*>(head_); }
  T* next_listed() const { return static_cast<T*>(next_); }

 protected:
  Listed() {
    next_ = head_;
    if (next_) next_->prev_ = this;
    head_ = this;
  }
  ~Listed() {
    if (prev_) prev_->next_ = next_;
    else head_ = next_;
    if (next_) next_->prev_ = prev_;
  }
  Listed(const Listed&) = delete;
  Listed& operator=(const Listed&) = delete;

 private:
  static inline Listed* head_ = nullptr;
  Listed* next_ = nullptr;
  Listed* prev_ = nullptr;
};

}  // namespace mote
