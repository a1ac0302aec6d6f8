#import <Foundation/Foundation.h>

@protocol DownloadDelegate <NSObject>
- (void)downloadDidFinish:(NSURL *)location;
@optional
- (void)downloadDidProgress:(float)fraction;
@end

@interface Downloader : NSObject
@property (nonatomic, weak) id<DownloadDelegate> delegate;
- (void)startWithURL:(NSURL *)url;
@end
