#ifndef STACK_HPP
#define STACK_HPP

#include <cstddef>
#include <stdexcept>

template <typename T>
class Stack {
public:
    void push(const T& value) { items_.push_back(value); }
    T pop() {
        if (items_.empty()) throw std::out_of_range("empty stack");
        T top = items_.back();
        items_.pop_back();
        return top;
    }
    std::size_t size() const noexcept { return items_.size(); }
private:
    std::vector<T> items_;
};

#endif
