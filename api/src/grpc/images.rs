//! `elevatediq.v1.Images`: a thin handler over [`ImageService`].

use eiq_proto::v1::{AnalyzeImageRequest, AnalyzeImageResponse, images_server::Images};
use eiq_service::images::ImageService;
use tonic::{Request, Response, Status};

use super::convert;
use crate::error::grpc_status;
use crate::principal;

pub struct GrpcImages {
    images: ImageService,
}

impl GrpcImages {
    pub fn new(images: ImageService) -> Self {
        Self { images }
    }
}

#[tonic::async_trait]
impl Images for GrpcImages {
    async fn analyze(&self, request: Request<AnalyzeImageRequest>) -> Result<Response<AnalyzeImageResponse>, Status> {
        let principal = principal::of_grpc(&request)?;
        let AnalyzeImageRequest { image, crop } = request.into_inner();
        let (analysis, cropped) = self.images.analyze(&principal, image, crop.as_deref()).await.map_err(grpc_status)?;
        Ok(Response::new(convert::image_analysis(analysis, cropped)))
    }
}
