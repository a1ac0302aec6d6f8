#import "Account.h"

@implementation Account

- (instancetype)initWithOwner:(NSString *)owner {
    self = [super init];
    if (self) {
        _owner = [owner copy];
        _balance = 0;
    }
    return self;
}

- (BOOL)withdraw:(double)amount {
    if (amount > self.balance) {
        return NO;
    }
    self.balance -= amount;
    return YES;
}

@end
