#pragma once
#include <vector>
#include <string>

namespace geo {

class Polygon {
public:
    explicit Polygon(std::vector<double> xs, std::vector<double> ys);
    double area() const;
    std::string name() const { return name_; }

private:
    std::vector<double> xs_;
    std::vector<double> ys_;
    std::string name_;
};

}  // namespace geo
