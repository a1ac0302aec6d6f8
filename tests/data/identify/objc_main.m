#import <Foundation/Foundation.h>

int main(int argc, const char * argv[]) {
    @autoreleasepool {
        NSArray *names = @[@"ada", @"grace", @"linus"];
        for (NSString *name in names) {
            NSLog(@"Hello, %@", [name capitalizedString]);
        }
    }
    return 0;
}
