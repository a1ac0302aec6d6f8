#include <iostream>
#include <map>
#include <string>

namespace util {
    inline void print_counts(const std::map<std::string, int>& counts) {
        for (const auto& [word, n] : counts) {
            std::cout << word << ": " << n << std::endl;
        }
    }
}
