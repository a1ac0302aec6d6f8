#import <Foundation/Foundation.h>

@interface Account : NSObject

@property (nonatomic, copy) NSString *owner;
@property (nonatomic, assign) double balance;

- (instancetype)initWithOwner:(NSString *)owner;
- (BOOL)withdraw:(double)amount;

@end
